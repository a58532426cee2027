//! Cost of running a cached script (what EVALSHA does once the server has
//! found the body): `return redis.call('incr', KEYS[1])` and a script making
//! ten `redis.call`s, against a host that keeps counters in a HashMap, so the
//! figures are the Lua side (argument and reply conversion, the call
//! trampoline, the sandbox) without the server's command execution.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrous_scripting::{sha1_hex, Engine, Host, Outcome, Reply, RunOpts};

/// A host whose only command is INCR.
#[derive(Default)]
struct Counters(HashMap<Vec<u8>, i64>);

impl Host for Counters {
    fn call(&mut self, args: &[&[u8]], _resp3: bool) -> Reply {
        match (args.first(), args.get(1)) {
            (Some(c), Some(k)) if c.eq_ignore_ascii_case(b"incr") => {
                let n = self.0.entry(k.to_vec()).or_insert(0);
                *n += 1;
                Reply::Int(*n)
            }
            _ => Reply::Error(b"ERR Unknown Redis command called from script".to_vec()),
        }
    }
    fn log(&mut self, _level: i64, _msg: &[u8]) {}
    fn acl_check(&mut self, _args: &[&[u8]]) -> Result<bool, String> {
        Ok(true)
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("evalsha");
    let scripts = [
        ("incr", "return redis.call('incr', KEYS[1])"),
        (
            "10-calls",
            "local n = 0 for i = 1, 10 do n = n + redis.call('incr', KEYS[1]) end return n",
        ),
    ];
    for (name, body) in scripts {
        let mut engine = match Engine::new("7.0.15", 256 << 20) {
            Ok(e) => e,
            Err(e) => panic!("Lua VM: {e}"),
        };
        let sha = sha1_hex(body.as_bytes());
        let mut host = Counters::default();
        let keys: [&[u8]; 1] = [b"key"];
        g.bench_function(name, |b| {
            b.iter(|| {
                let opts = RunOpts {
                    sha: &sha,
                    body: body.as_bytes(),
                    keys: &keys,
                    argv: &[],
                    client_resp3: false,
                };
                match engine.run(&opts, &mut host) {
                    Outcome::Return(r) => black_box(r),
                    Outcome::Raise(e) => panic!("{e}"),
                };
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
