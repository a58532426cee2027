//! XREAD BLOCK and XREADGROUP BLOCK, compared with a real redis-server:
//! each scenario runs the same script of two clients (one blocking, one
//! writing) against both servers and the transcripts must be identical.

mod common;

use std::thread::sleep;
use std::time::Duration;

use common::{show, Ferrous, Raw, Redis};

/// One step of a two-client script.
enum Step {
    /// Client A sends and reads the reply.
    A(&'static str),
    /// Client B sends and reads the reply.
    B(&'static str),
    /// Client A sends without reading (it is expected to block).
    ASend(&'static str),
    /// Client A reads the reply of its blocked command.
    ARead,
    /// Pause so the blocked command is registered (or times out).
    Sleep(u64),
}
use Step::*;

fn send(c: &mut Raw, line: &str) {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    c.send(&args);
}

fn transcript(a: &mut Raw, b: &mut Raw, steps: &[Step]) -> Vec<String> {
    let mut out = Vec::new();
    for s in steps {
        match s {
            A(l) => {
                send(a, l);
                out.push(format!("A {l} -> {}", show(&a.read_reply())));
            }
            B(l) => {
                send(b, l);
                out.push(format!("B {l} -> {}", show(&b.read_reply())));
            }
            ASend(l) => send(a, l),
            ARead => out.push(format!("A (blocked) -> {}", show(&a.read_reply()))),
            Sleep(ms) => sleep(Duration::from_millis(*ms)),
        }
    }
    out
}

fn compare(steps: &[Step]) {
    let Some(redis) = Redis::start(&[]) else {
        return;
    };
    let ferrous = Ferrous::start(&[]);
    let want = transcript(&mut redis.client(), &mut redis.client(), steps);
    let got = transcript(&mut ferrous.client(), &mut ferrous.client(), steps);
    assert_eq!(want.join("\n"), got.join("\n"));
}

#[test]
fn xread_block_served_by_xadd() {
    compare(&[
        A("XADD s 1-1 f v"),
        ASend("XREAD BLOCK 0 STREAMS s $"),
        Sleep(100),
        B("XADD s 2-1 g w"),
        ARead,
        ASend("XREAD BLOCK 0 STREAMS nokey s $ 2-1"),
        Sleep(100),
        B("XADD nokey 5-1 a b"),
        ARead,
        ASend("XREAD COUNT 1 BLOCK 5000 STREAMS s2 0"),
        Sleep(100),
        B("SET other x"),
        B("XADD s2 1-1 a b"),
        ARead,
        A("PING"),
    ]);
}

#[test]
fn xread_block_times_out() {
    compare(&[
        ASend("XREAD BLOCK 100 STREAMS s $"),
        Sleep(300),
        ARead,
        A("XREAD BLOCK 50 STREAMS s 0"),
        A("XADD s 1-1 f v"),
        A("XREAD BLOCK 50 STREAMS s 0"),
        A("XREAD BLOCK 50 STREAMS s $"),
        A("XREAD BLOCK -1 STREAMS s $"),
        A("XREAD BLOCK x STREAMS s $"),
    ]);
}

#[test]
fn xreadgroup_block_served_by_xadd() {
    compare(&[
        A("XGROUP CREATE s g $ MKSTREAM"),
        ASend("XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
        Sleep(100),
        B("XADD s 1-1 f v"),
        ARead,
        B("XPENDING s g"),
        ASend("XREADGROUP GROUP g alice NOACK COUNT 1 BLOCK 0 STREAMS s >"),
        Sleep(100),
        B("XADD s 2-1 f v"),
        ARead,
        B("XPENDING s g"),
        A("XREADGROUP GROUP g alice BLOCK 10 STREAMS s 0"),
        B("XINFO GROUPS s"),
        ASend("XREADGROUP GROUP g bob BLOCK 200 STREAMS s >"),
        Sleep(400),
        ARead,
        B("XINFO GROUPS s"),
    ]);
}

#[test]
fn blocked_on_a_key_that_is_deleted_and_recreated() {
    compare(&[
        A("XADD s 1-1 f v"),
        ASend("XREAD BLOCK 0 STREAMS s $"),
        Sleep(100),
        B("DEL s"),
        B("XADD s 1-2 f v"),
        ARead,
    ]);
}

#[test]
fn xreadgroup_blocked_when_group_or_key_goes_away() {
    compare(&[
        A("XGROUP CREATE s g $ MKSTREAM"),
        ASend("XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
        Sleep(100),
        B("XGROUP DESTROY s g"),
        ARead,
        A("XGROUP CREATE s g $"),
        ASend("XREADGROUP GROUP g alice BLOCK 0 STREAMS s >"),
        Sleep(100),
        B("DEL s"),
        ARead,
        B("XADD s 1-1 f v"),
        A("XADD s2 1-1 f v"),
        ASend("XREAD BLOCK 0 STREAMS s2 $"),
        Sleep(100),
        B("DEL s2"),
        B("XADD s2 1-2 f v"),
        ARead,
    ]);
}
