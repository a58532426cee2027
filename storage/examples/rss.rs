//! Memory of 1,000,000 keys (`key:NNNNNNN` -> 16-byte value): prints process RSS before and
//! after building a `HashTrie<SmallBytes, SmallBytes>`, or with argument `imbl` an
//! `imbl::HashMap<Bytes, Bytes>`.

use bytes::Bytes;
use ferrous_storage::{HashTrie, SmallBytes};

const N: usize = 1_000_000;

/// Resident set size in MB from /proc/self/statm (second field, in 4 KiB pages).
fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    (pages * 4096) as f64 / 1e6
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "own".into());
    let before = rss_mb();
    match which.as_str() {
        "imbl" => {
            let mut m = imbl::HashMap::new();
            for i in 0..N {
                let k = format!("key:{i:07}");
                let v = format!("v{i:015}");
                m.insert(
                    Bytes::copy_from_slice(k.as_bytes()),
                    Bytes::copy_from_slice(v.as_bytes()),
                );
            }
            let after = rss_mb();
            println!(
                "imbl HashMap<Bytes,Bytes>: {} keys, RSS before {before:.1} MB, after {after:.1} MB, delta {:.1} MB",
                m.len(),
                after - before
            );
        }
        _ => {
            let mut m: HashTrie<SmallBytes, SmallBytes> = HashTrie::new();
            for i in 0..N {
                let k = format!("key:{i:07}");
                let v = format!("v{i:015}");
                m.insert(SmallBytes::from(k.as_str()), SmallBytes::from(v.as_str()));
            }
            let after = rss_mb();
            println!(
                "HashTrie<SmallBytes,SmallBytes>: {} keys, RSS before {before:.1} MB, after {after:.1} MB, delta {:.1} MB, heap_bytes estimate {:.1} MB",
                m.len(),
                after - before,
                m.heap_bytes() as f64 / 1e6
            );
        }
    }
}
