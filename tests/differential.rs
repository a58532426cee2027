//! Differential tests: every file in `tests/diff/` is replayed against a real
//! redis-server and against Ferrous, and the replies must match byte for byte.
//! Add a case by adding a line to a file; add a file by adding it to the list.

mod common;

macro_rules! diff_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/diff")
                    .join(concat!(stringify!($name), ".txt"));
                let n = common::run_case_file(&path);
                eprintln!("{}: {} differential cases", stringify!($name), n);
            }
        )*
    };
}

diff_files!(
    connection,
    strings_basic,
    keys,
    keys_rename,
    keys_scan,
    keys_object,
    keys_collections,
    expire,
    server,
    client,
    command,
    strings_counter,
    strings_range,
    bitmap_basic,
    bitmap_bitfield,
    zset_basic,
    zset_range,
    zset_ops,
    zset_pop,
    geo,
    zset_script,
    hll,
    stream_basic,
    stream_group,
    stream_read,
    hash_basic,
    hash_counter,
    hash_random,
    hash_encoding,
    set_basic,
    set_algebra,
    set_encoding,
    set_random,
    scripting,
    script_cache,
    scripting_libs,
    scripting_functions,
    command_getkeysandflags,
    latency_config,
    lazyfree,
    config_rewrite,
    multi,
    watch_collections,
    pubsub,
    notify,
    notify_collections,
    tracking,
    tracking_collections,
    list_basic,
    list_ops,
    list_blocking,
    list_sort,
    sort_types,
    list_edge,
);
