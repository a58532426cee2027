//! Glob-style pattern matching with the semantics of Redis's `stringmatchlen`
//! (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes), used by KEYS, SCAN, CONFIG GET
//! and, later, pub/sub patterns.

/// Whether `s` matches `pat`; `nocase` folds ASCII case.
pub fn matches(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    m(pat, s, nocase, 0, &mut skip_longer)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

// Like Redis, `depth` bounds the recursion of stars so a hostile pattern
// cannot blow the stack, and `skip_longer` stops trying longer matches for a
// star once the rest of the pattern has run out of string (which makes the
// matcher polynomial instead of exponential).
fn m(mut p: &[u8], mut s: &[u8], nocase: bool, depth: u32, skip_longer: &mut bool) -> bool {
    if depth > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if m(&p[1..], s, nocase, depth + 1, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: Redis steps back onto the last byte.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == s[0] {
                            hit = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        // Redis compares C `char`s, which are signed on the
                        // platforms it runs on: bytes >= 0x80 sort below ASCII.
                        let (mut lo, mut hi) = (p[0] as i8, p[2] as i8);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        let c = s[0] as i8;
                        let fold = |b: i8| (b as u8).to_ascii_lowercase() as i8;
                        let (lo2, hi2, c2) = if nocase {
                            (fold(lo), fold(hi), fold(c))
                        } else {
                            (lo, hi, c)
                        };
                        if c2 >= lo2 && c2 <= hi2 {
                            hit = true;
                        }
                        p = &p[2..];
                    } else if eq(p[0], s[0], nocase) {
                        hit = true;
                    }
                    if p.len() == 1 {
                        // pattern ends inside the class
                        break;
                    }
                    p = &p[1..];
                }
                if not {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
            c => {
                if !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn basics() {
        assert!(matches(b"*", b"anything", false));
        assert!(matches(b"h?llo", b"hello", false));
        assert!(matches(b"h[ae]llo", b"hallo", false));
        assert!(!matches(b"h[^e]llo", b"hello", false));
        assert!(matches(b"h[a-b]llo", b"hbllo", false));
        assert!(matches(b"h\\*llo", b"h*llo", false));
        assert!(!matches(b"h\\*llo", b"hello", false));
        assert!(matches(b"*o", b"hello", false));
        assert!(matches(b"MAX*", b"maxclients", true));
        assert!(matches(b"a*", b"a", false));
        assert!(!matches(b"a?", b"a", false));
        assert!(matches(b"", b"", false));
        assert!(!matches(b"", b"a", false));
    }

    #[test]
    fn ranges_compare_bytes_as_signed_chars() {
        // [a-\xff] is the range -1..=97 once the ends are swapped.
        assert!(matches(b"[a-\xff]", b"A", false));
        assert!(matches(b"[a-\xff]", b"\xff", false));
        assert!(!matches(b"[a-\xff]", b"b", false));
        assert!(!matches(b"[a-\xff]", b"\x80", false));
        assert!(matches(b"[\x80-\x90]", b"\x85", false));
        assert!(!matches(b"[\x80-\x90]", b"a", false));
    }

    #[test]
    fn hostile_pattern_terminates() {
        let pat = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!matches(pat, &[b'a'; 60], false));
    }
}
