//! FUNCTION DUMP / RESTORE payloads: RDB `FUNCTION2` records (opcode 245
//! and the library code as an RDB string), the RDB version (10) and a
//! CRC-64 (Jones, as in Redis's RDB files). Strings longer than 20 bytes
//! are LZF-compressed when that saves at least 4 bytes, as Redis does.

/// RDB opcode of a function library record.
const OPCODE_FUNCTION2: u8 = 245;
/// The RDB version Redis 7.0 writes.
const RDB_VERSION: u16 = 10;

/// CRC-64/Jones (reflected, polynomial 0xad93d23594c935a9, no final xor).
pub fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 bit-reversed
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
}

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

fn idx(h: u32) -> usize {
    (((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5))) as usize) & (HSIZE - 1)
}

/// LZF compression with liblzf's parameters as Redis builds it (16-bit
/// hash table, "very fast" mode), so payloads match Redis byte for byte;
/// `None` when the output would not fit in `out_len` bytes.
fn lzf_compress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let n = input.len();
    let mut htab = vec![0usize; HSIZE];
    let mut out: Vec<u8> = Vec::with_capacity(out_len + 1);
    let mut lit: usize = 0;
    let mut ip = 0usize;
    out.push(0); // start run
    if n < 2 { /* fallthrough to tail */ }
    let frst = |p: usize| -> u32 { ((input[p] as u32) << 8) | input[p + 1] as u32 };
    let next = |v: u32, p: usize| -> u32 { (v << 8) | input[p + 2] as u32 };
    let mut hval = if n >= 2 { frst(0) } else { 0 };
    while n >= 3 && ip < n - 2 {
        hval = next(hval, ip);
        let slot = idx(hval);
        let r = htab[slot];
        htab[slot] = ip;
        let off = ip.wrapping_sub(r).wrapping_sub(1);
        if off < MAX_OFF
            && r > 0
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
        {
            let mut len = 2usize;
            let maxlen = (n - ip - len).min(MAX_REF);
            // Room for the back reference (the run header is undone when empty).
            if out.len() - (lit == 0) as usize + 3 + 1 >= out_len {
                return None;
            }
            let at = out.len() - lit - 1;
            out[at] = (lit as u8).wrapping_sub(1);
            if lit == 0 {
                out.pop();
            }
            loop {
                len += 1;
                if !(len < maxlen && input[r + len] == input[ip + len]) {
                    break;
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out.push(((off >> 8) + (len << 5)) as u8);
            } else {
                out.push(((off >> 8) + (7 << 5)) as u8);
                out.push((len - 7) as u8);
            }
            out.push(off as u8);
            lit = 0;
            out.push(0);
            ip += len + 1;
            if ip >= n - 2 {
                break;
            }
            ip -= 2;
            hval = frst(ip);
            hval = next(hval, ip);
            htab[idx(hval)] = ip;
            ip += 1;
            hval = next(hval, ip);
            htab[idx(hval)] = ip;
            ip += 1;
        } else {
            if out.len() >= out_len {
                return None;
            }
            lit += 1;
            out.push(input[ip]);
            ip += 1;
            if lit == MAX_LIT {
                let at = out.len() - lit - 1;
                out[at] = (lit - 1) as u8;
                lit = 0;
                out.push(0);
            }
        }
    }
    if out.len() + 3 > out_len {
        return None;
    }
    while ip < n {
        lit += 1;
        out.push(input[ip]);
        ip += 1;
        if lit == MAX_LIT {
            let at = out.len() - lit - 1;
            out[at] = (lit - 1) as u8;
            lit = 0;
            out.push(0);
        }
    }
    let at = out.len() - lit - 1;
    out[at] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        out.pop();
    }
    Some(out)
}

/// An RDB string: LZF-compressed when worth it (Redis's rule), else raw.
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() > 20 {
        if let Some(c) = lzf_compress(s, s.len() - 4) {
            out.push(0xc3);
            put_len(out, c.len());
            put_len(out, s.len());
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// The DUMP payload of these library codes.
pub fn dump<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(OPCODE_FUNCTION2);
        put_string(&mut out, code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A length, or `None` for the special (encoded-string) marker.
enum Len {
    Plain(usize),
    Encoded(u8),
}

struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let c = *self.b.get(self.p)?;
        self.p += 1;
        Some(c)
    }
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.p..self.p.checked_add(n)?)?;
        self.p += n;
        Some(s)
    }
    fn len(&mut self) -> Option<Len> {
        let c = self.byte()?;
        Some(match c >> 6 {
            0 => Len::Plain((c & 0x3f) as usize),
            1 => Len::Plain(((c & 0x3f) as usize) << 8 | self.byte()? as usize),
            2 if c == 0x80 => {
                let b = self.take(4)?;
                Len::Plain(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            }
            2 if c == 0x81 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Len::Plain(usize::try_from(u64::from_be_bytes(a)).ok()?)
            }
            3 => Len::Encoded(c & 0x3f),
            _ => return None,
        })
    }
    fn plain_len(&mut self) -> Option<usize> {
        match self.len()? {
            Len::Plain(n) => Some(n),
            Len::Encoded(_) => None,
        }
    }
    fn string(&mut self) -> Option<Vec<u8>> {
        match self.len()? {
            Len::Plain(n) => Some(self.take(n)?.to_vec()),
            Len::Encoded(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(1) => {
                let b = self.take(2)?;
                Some(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
            }
            Len::Encoded(2) => {
                let b = self.take(4)?;
                Some(
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                        .to_string()
                        .into_bytes(),
                )
            }
            Len::Encoded(3) => {
                let clen = self.plain_len()?;
                let ulen = self.plain_len()?;
                let data = self.take(clen)?;
                lzf_decompress(data, ulen)
            }
            Len::Encoded(_) => None,
        }
    }
}

/// LZF decompression (the format of compressed RDB strings).
fn lzf_decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len.min(64 << 20));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            out.extend_from_slice(input.get(i..i + n)?);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..len + 2 {
                let c = out[start + k];
                out.push(c);
            }
        }
        if out.len() > out_len {
            return None;
        }
    }
    (out.len() == out_len).then_some(out)
}

/// Why a payload was refused.
pub enum RestoreError {
    /// Bad footer (version or checksum).
    Footer,
    /// A record that is not a function library.
    NotFunction,
    /// A truncated or malformed record.
    Malformed,
}

/// The library codes in a DUMP payload.
pub fn parse(payload: &[u8]) -> Result<Vec<Vec<u8>>, RestoreError> {
    if payload.len() < 10 {
        return Err(RestoreError::Footer);
    }
    let (body, footer) = payload.split_at(payload.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    let crc = u64::from_le_bytes(crc);
    if version > RDB_VERSION || crc64(&payload[..payload.len() - 8]) != crc {
        return Err(RestoreError::Footer);
    }
    let mut r = Reader { b: body, p: 0 };
    let mut codes = Vec::new();
    while r.p < body.len() {
        if r.byte() != Some(OPCODE_FUNCTION2) {
            return Err(RestoreError::NotFunction);
        }
        codes.push(r.string().ok_or(RestoreError::Malformed)?);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_jones_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn empty_dump_matches_redis() {
        assert_eq!(dump(std::iter::empty()), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }

    #[test]
    fn compresses_like_redis() {
        let code = format!(
            "#!lua name=big\n-- {}\nredis.register_function('big', function() return 1 end)",
            "a".repeat(100)
        );
        let want: &[u8] = b"\xf5\xc3@K@\xae\x12#!lua name=big\n-- a\xe0Z\x00\x19\nredis.register_function(' \x84\x02', \xe0\x00\x0f\x0e) return 1 end)\n\x00\xa8\xee\x98\xc3\x08\xeb|F";
        assert_eq!(dump(std::iter::once(code.as_bytes())), want);
        for n in [0usize, 1, 5, 21, 100, 1000, 20000] {
            let text: Vec<u8> = (0..n).map(|i| b"abcab"[i % 5] ^ (i / 7) as u8).collect();
            let codes = match parse(&dump(std::iter::once(&text[..]))) {
                Ok(c) => c,
                Err(_) => panic!("refused {n}"),
            };
            assert_eq!(codes, vec![text]);
        }
    }

    #[test]
    fn reads_redis_compressed_payload() {
        let p = b"\xf5\xc3@K@\xae\x12#!lua name=big\n-- a\xe0Z\x00\x19\nredis.register_function(' \x84\x02', \xe0\x00\x0f\x0e) return 1 end)\n\x00\xa8\xee\x98\xc3\x08\xeb|F";
        let codes = match parse(p) {
            Ok(c) => c,
            Err(_) => panic!("refused"),
        };
        let want = format!(
            "#!lua name=big\n-- {}\nredis.register_function('big', function() return 1 end)",
            "a".repeat(100)
        );
        assert_eq!(codes, vec![want.into_bytes()]);
    }
}
