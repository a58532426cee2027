//! HyperLogLog values in Redis's string representation.
//!
//! An HLL is a plain string: a 16-byte header (`HYLL`, an encoding byte —
//! 0 dense, 1 sparse —, three unused bytes, and the cached cardinality as
//! 8 little-endian bytes whose top bit marks it stale), followed by 16384
//! 6-bit registers, either densely packed (12288 bytes, register `i` at bit
//! `6 * i`, least significant bits first) or run-length coded (sparse):
//! `00xxxxxx` is a run of `x + 1` zero registers, `01xxxxxx yyyyyyyy` a run
//! of `(x << 8 | y) + 1` zeros, and `1vvvvvxx` a run of `x + 1` registers
//! holding `v + 1`. Elements are hashed with MurmurHash64A (seed
//! `0xadc83b19`); the low 14 bits pick the register and the position of
//! the lowest set bit among the remaining 50 (plus one) is the candidate
//! value. The estimate is Ertl's improved raw estimator.
//!
//! Every operation here reproduces the layout Redis produces byte for byte
//! (checked against a real redis-server by tests/hll_random.rs), because
//! clients GET and SET HLLs as strings.

/// Header length.
pub const HDR: usize = 16;
/// Number of registers (2^14).
pub const REGISTERS: usize = 1 << 14;
/// Length of a dense HLL: header plus 16384 six-bit registers.
pub const DENSE_SIZE: usize = HDR + REGISTERS * 6 / 8;
const P: u32 = 14;
const Q: u32 = 64 - P;
const SEED: u64 = 0xadc8_3b19;
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
/// Largest value a sparse VAL opcode can hold.
const SPARSE_VAL_MAX: u8 = 32;
/// Longest run of a sparse VAL opcode.
const SPARSE_VAL_MAX_LEN: usize = 4;
const SPARSE_ZERO_MAX_LEN: usize = 64;

/// The bytes are not an HLL (Redis: `WRONGTYPE Key is not a valid HyperLogLog string value.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotHll;

/// The HLL's sparse data is corrupt (Redis: `INVALIDOBJ Corrupted HLL object detected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// MurmurHash64A (Austin Appleby's public-domain hash), blocks read
/// little-endian as Redis does on every platform.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut k = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate().rev() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the value it proposes.
pub fn pattern(ele: &[u8]) -> (usize, u8) {
    let h = murmur64a(ele, SEED);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    // The sentinel bit bounds the count at Q + 1.
    let rest = (h >> P) | (1u64 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// A new, empty sparse HLL (one XZERO run over every register), its cached
/// cardinality 0 and valid.
pub fn new_sparse() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 2);
    v.extend_from_slice(b"HYLL");
    v.extend_from_slice(&[ENC_SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    push_zero_run(&mut v, REGISTERS);
    v
}

/// Checks that `b` looks like an HLL, as Redis does before any HLL command.
pub fn validate(b: &[u8]) -> Result<(), NotHll> {
    if b.len() < HDR || &b[..4] != b"HYLL" || b[4] > ENC_SPARSE {
        return Err(NotHll);
    }
    if b[4] == ENC_DENSE && b.len() != DENSE_SIZE {
        return Err(NotHll);
    }
    Ok(())
}

/// Whether the HLL is sparse.
pub fn is_sparse(b: &[u8]) -> bool {
    b[4] == ENC_SPARSE
}

/// The cached cardinality, if still valid.
pub fn cached(b: &[u8]) -> Option<u64> {
    if b[15] & 0x80 != 0 {
        return None;
    }
    let mut c = [0u8; 8];
    c.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(c))
}

/// Stores `card` as the cached cardinality.
pub fn set_cache(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality stale.
pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let lo = regs[byte] as u16;
    let hi = regs.get(byte + 1).copied().unwrap_or(0) as u16;
    (((lo | hi << 8) >> shift) & 63) as u8
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let mask: u16 = 63 << shift;
    let val = ((v & 63) as u16) << shift;
    regs[byte] = ((regs[byte] as u16 & !mask) | (val & 0xff)) as u8;
    if shift > 2 {
        regs[byte + 1] = ((regs[byte + 1] as u16 & !(mask >> 8)) | (val >> 8)) as u8;
    }
}

/// One decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Zero(usize),
    XZero(usize),
    Val(u8, usize),
}

impl Op {
    fn span(self) -> usize {
        match self {
            Op::Zero(n) | Op::XZero(n) | Op::Val(_, n) => n,
        }
    }
    fn width(self) -> usize {
        if let Op::XZero(_) = self {
            2
        } else {
            1
        }
    }
}

/// Decodes the opcode at `p` (a truncated XZERO reads its missing byte as
/// 0, like the NUL that ends every Redis string).
fn op_at(b: &[u8], p: usize) -> Op {
    let c = b[p];
    if c & 0x80 != 0 {
        Op::Val(((c >> 2) & 0x1f) + 1, (c & 3) as usize + 1)
    } else if c & 0x40 != 0 {
        let lo = b.get(p + 1).copied().unwrap_or(0) as usize;
        Op::XZero((((c & 0x3f) as usize) << 8 | lo) + 1)
    } else {
        Op::Zero((c & 0x3f) as usize + 1)
    }
}

fn val_byte(v: u8, len: usize) -> u8 {
    0x80 | ((v - 1) << 2) | (len as u8 - 1)
}

/// Appends the opcode for a run of `len` zeros (ZERO when it fits, else XZERO).
fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    if len > SPARSE_ZERO_MAX_LEN {
        let l = len - 1;
        out.push(0x40 | (l >> 8) as u8);
        out.push((l & 0xff) as u8);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Calls `f(first_register, op)` for every sparse opcode.
fn sparse_ops(b: &[u8], mut f: impl FnMut(usize, Op)) {
    let mut p = HDR;
    let mut idx = 0;
    while p < b.len() {
        let op = op_at(b, p);
        f(idx, op);
        idx += op.span();
        p += op.width();
    }
}

/// Converts a sparse HLL to dense in place (the header is kept).
pub fn to_dense(b: &mut Vec<u8>) -> Result<(), Corrupt> {
    if !is_sparse(b) {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(&b[..HDR]);
    dense[4] = ENC_DENSE;
    let mut end = 0;
    let mut bad = false;
    sparse_ops(b, |first, op| {
        end = first + op.span();
        if let Op::Val(v, n) = op {
            if first + n > REGISTERS {
                bad = true;
                return;
            }
            for i in first..first + n {
                dense_put(&mut dense[HDR..], i, v);
            }
        }
    });
    if bad || end != REGISTERS {
        return Err(Corrupt);
    }
    *b = dense;
    Ok(())
}

/// Raises register `index` to `count` if it is lower. Sparse HLLs are
/// promoted to dense when the value does not fit a VAL opcode or the
/// string would outgrow `sparse_max` bytes. Returns whether the register
/// changed. The cached cardinality is left to the caller.
pub fn set_register(
    b: &mut Vec<u8>,
    index: usize,
    count: u8,
    sparse_max: usize,
) -> Result<bool, Corrupt> {
    if !is_sparse(b) {
        let regs = &mut b[HDR..];
        if dense_get(regs, index) < count {
            dense_put(regs, index, count);
            return Ok(true);
        }
        return Ok(false);
    }
    if count > SPARSE_VAL_MAX {
        return promote(b, index, count);
    }
    // Find the opcode covering `index`, and the one before it.
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    let mut found = None;
    while p < b.len() {
        let op = op_at(b, p);
        if index < first + op.span() {
            found = Some(op);
            break;
        }
        prev = Some(p);
        p += op.width();
        first += op.span();
    }
    let Some(op) = found else {
        return Err(Corrupt);
    };
    match op {
        Op::Val(v, _) if v >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zero(1) => b[p] = val_byte(count, 1),
        _ => {
            // Split the run into (before, the new value, after).
            let last = first + op.span() - 1;
            let mut seq = Vec::with_capacity(5);
            match op {
                Op::Val(v, _) => {
                    if index != first {
                        seq.push(val_byte(v, index - first));
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        seq.push(val_byte(v, last - index));
                    }
                }
                _ => {
                    if index != first {
                        push_zero_run(&mut seq, index - first);
                    }
                    seq.push(val_byte(count, 1));
                    if index != last {
                        push_zero_run(&mut seq, last - index);
                    }
                }
            }
            let old = op.width();
            if seq.len() > old && b.len() + seq.len() - old > sparse_max {
                return promote(b, index, count);
            }
            // A truncated XZERO at the very end: Redis read its missing
            // byte from the string's NUL terminator and sizes the result
            // as if it had been there.
            let len = (b.len() + seq.len()).saturating_sub(old);
            if p + old > b.len() {
                b.resize(p + old, 0);
            }
            b.splice(p..p + old, seq);
            b.truncate(len);
        }
    }
    merge_vals(b, prev.unwrap_or(HDR));
    Ok(true)
}

/// Joins adjacent VAL opcodes of equal value (as long as the run fits),
/// looking at no more than five opcodes from `p`.
fn merge_vals(b: &mut Vec<u8>, mut p: usize) {
    let mut budget = 5;
    while p < b.len() && budget > 0 {
        budget -= 1;
        let op = op_at(b, p);
        if let Op::Val(v1, l1) = op {
            if let Some(Op::Val(v2, l2)) = (p + 1 < b.len()).then(|| op_at(b, p + 1)) {
                if v1 == v2 && l1 + l2 <= SPARSE_VAL_MAX_LEN {
                    b[p + 1] = val_byte(v1, l1 + l2);
                    b.remove(p);
                    continue;
                }
            }
        }
        p += op.width();
    }
}

fn promote(b: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(b)?;
    let regs = &mut b[HDR..];
    if dense_get(regs, index) < count {
        dense_put(regs, index, count);
    }
    // A promotion always counts as a change (the representation changed).
    Ok(true)
}

/// Adds an element; returns whether a register changed.
pub fn add(b: &mut Vec<u8>, ele: &[u8], sparse_max: usize) -> Result<bool, Corrupt> {
    let (index, count) = pattern(ele);
    set_register(b, index, count, sparse_max)
}

/// Merges the registers of `b` into `max` (register-wise maximum).
pub fn merge_into(max: &mut [u8], b: &[u8]) -> Result<(), Corrupt> {
    if !is_sparse(b) {
        for (i, m) in max.iter_mut().enumerate().take(REGISTERS) {
            *m = (*m).max(dense_get(&b[HDR..], i));
        }
        return Ok(());
    }
    let mut end = 0;
    let mut bad = false;
    sparse_ops(b, |first, op| {
        if bad {
            return;
        }
        end = first + op.span();
        if let Op::Val(v, n) = op {
            if first + n > REGISTERS {
                bad = true;
                return;
            }
            for m in &mut max[first..first + n] {
                *m = (*m).max(v);
            }
        }
    });
    if bad || end != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Estimates the cardinality of the HLL `b`.
pub fn count(b: &[u8]) -> Result<u64, Corrupt> {
    let mut histo = [0u64; 64];
    if is_sparse(b) {
        let mut end = 0;
        sparse_ops(b, |first, op| {
            end = first + op.span();
            match op {
                Op::Val(v, n) => histo[v as usize] += n as u64,
                Op::Zero(n) | Op::XZero(n) => histo[0] += n as u64,
            }
        });
        if end != REGISTERS {
            return Err(Corrupt);
        }
    } else {
        for i in 0..REGISTERS {
            histo[dense_get(&b[HDR..], i) as usize] += 1;
        }
    }
    Ok(estimate(&histo))
}

/// Estimates the cardinality of one byte per register (a merged union).
pub fn count_registers(regs: &[u8]) -> u64 {
    let mut histo = [0u64; 64];
    for &r in regs {
        histo[(r & 63) as usize] += 1;
    }
    estimate(&histo)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over a histogram of register values.
fn estimate(histo: &[u64; 64]) -> u64 {
    let m = REGISTERS as f64;
    let q = Q as usize;
    let mut z = m * tau((m - histo[q + 1] as f64) / m);
    for j in (1..=q).rev() {
        z += histo[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histo[0] as f64 / m);
    let alpha_inf = 0.5 / std::f64::consts::LN_2;
    (alpha_inf * m * m / z).round() as u64
}

/// Every register's value, one byte each.
pub fn registers(b: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut max = vec![0u8; REGISTERS];
    merge_into(&mut max, b)?;
    Ok(max)
}

/// The opcodes of a sparse HLL as PFDEBUG DECODE prints them
/// (`Z:len`, `XZ:len`, `v:value,len`).
pub fn decode(b: &[u8]) -> String {
    let mut parts = Vec::new();
    sparse_ops(b, |_, op| {
        parts.push(match op {
            Op::Zero(n) => format!("z:{n}"),
            Op::XZero(n) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        })
    });
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_elements_match_redis_layout() {
        // Bytes observed from redis-server 7.0 after PFADD h a b c.
        let mut h = new_sparse();
        for e in [&b"a"[..], b"b", b"c"] {
            assert!(add(&mut h, e, 3000).unwrap());
        }
        assert_eq!(&h[HDR..], b"\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a");
        assert_eq!(count(&h).unwrap(), 3);
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; REGISTERS * 6 / 8];
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), (i % 64) as u8);
        }
    }
}
