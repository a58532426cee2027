//! Builds Lua 5.1.5 from the `lua-src` crate's sources with Ferrous's
//! security patches applied in OUT_DIR (no third-party source is committed).
//!
//! Patches (each asserted to apply, so a changed source fails the build):
//!
//! CVE-2025-46817: `unpack` counted its results with signed overflow; see
//! [`patch_unpack`].
//!
//! CVE-2025-49844. `luaY_parser` created the chunk-name string and
//! handed it to the lexer without anchoring it anywhere the garbage collector
//! can see; a collection during parsing could free it while still in use.
//! The fix pushes the name on the Lua stack for the duration of the parse.

use std::path::{Path, PathBuf};

const LUA_SRC_VERSION: &str = "551.0.2";

fn find_lua_src() -> PathBuf {
    if let Ok(p) = std::env::var("FERROUS_LUA_SRC") {
        return PathBuf::from(p);
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo")
        });
    let want = format!("lua-src-{LUA_SRC_VERSION}");
    let mut candidates = vec![];
    if let Ok(rd) = std::fs::read_dir(home.join("registry").join("src")) {
        for e in rd.flatten() {
            candidates.push(e.path().join(&want).join("lua-5.1.5"));
        }
    }
    // `cargo vendor` layouts.
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    for up in manifest.ancestors().take(3) {
        candidates.push(up.join("vendor").join("lua-src").join("lua-5.1.5"));
        candidates.push(up.join("vendor").join(&want).join("lua-5.1.5"));
    }
    candidates
        .into_iter()
        .find(|p| p.join("lparser.c").exists())
        .unwrap_or_else(|| {
            panic!("cannot find the sources of lua-src {LUA_SRC_VERSION}; set FERROUS_LUA_SRC")
        })
}

fn patch(src: &str, from: &str, to: &str, what: &str) -> String {
    assert!(
        src.matches(from).count() == 1,
        "Lua patch '{what}' does not apply: the source changed"
    );
    src.replacen(from, to, 1)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FERROUS_LUA_SRC");
    let src = find_lua_src();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dir = out.join("lua-5.1.5");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/lua-5.1.5");
    let mut files = vec![];
    for e in std::fs::read_dir(&src).expect("read lua sources").flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if !(name.ends_with(".c") || name.ends_with(".h")) {
            continue;
        }
        let mut text = std::fs::read_to_string(&p).expect("read lua source");
        if name == "lparser.c" {
            text = patch_parser(&text);
        }
        if name == "lbaselib.c" {
            text = patch_unpack(&text);
        }
        std::fs::write(dir.join(&name), text).expect("write lua source");
        // lua.c / luac.c (interpreters with a main) are not in lua-src, but
        // be safe should a later version ship them.
        if name.ends_with(".c") && name != "lua.c" && name != "luac.c" {
            files.push(dir.join(&name));
        }
    }
    files.sort();
    build(&dir, &files);
}

fn patch_parser(text: &str) -> String {
    let t = patch(
        text,
        "  struct FuncState funcstate;\n  lexstate.buff = buff;\n  luaX_setinput(L, &lexstate, z, luaS_new(L, name));\n",
        "  struct FuncState funcstate;\n  TString *tname;\n  lexstate.buff = buff;\n  \
         /* ferrous: keep the chunk name reachable by the GC while parsing (CVE-2025-49844) */\n  \
         tname = luaS_new(L, name);\n  setsvalue2s(L, L->top, tname);\n  incr_top(L);\n  \
         luaX_setinput(L, &lexstate, z, tname);\n",
        "anchor chunk name",
    );
    patch(
        &t,
        "  lua_assert(lexstate.fs == NULL);\n  return funcstate.f;\n",
        "  lua_assert(lexstate.fs == NULL);\n  L->top--;  /* ferrous: pop the anchored chunk name */\n  return funcstate.f;\n",
        "pop chunk name",
    )
}

/// CVE-2025-46817: `unpack` computed its element count with signed
/// overflow (undefined behaviour) for extreme ranges; count in unsigned
/// arithmetic and never step `i` past `e`.
fn patch_unpack(text: &str) -> String {
    let t = patch(
        text,
        "  n = e - i + 1;  /* number of elements */\n  if (n <= 0 || !lua_checkstack(L, n))  /* n <= 0 means arith. overflow */\n",
        "  /* ferrous: overflow-safe count (CVE-2025-46817) */\n  if ((unsigned int)e - (unsigned int)i >= (unsigned int)INT_MAX)\n    return luaL_error(L, \"too many results to unpack\");\n  n = (int)((unsigned int)e - (unsigned int)i) + 1;\n  if (!lua_checkstack(L, n))\n",
        "unpack count",
    );
    patch(
        &t,
        "  while (i++ < e)  /* push arg[i + 1...e] */\n    lua_rawgeti(L, 1, i);\n",
        "  while (i < e) {  /* push arg[i + 1...e] */\n    i++;\n    lua_rawgeti(L, 1, i);\n  }\n",
        "unpack loop",
    )
}

fn build(dir: &Path, files: &[PathBuf]) {
    let target = std::env::var("TARGET").unwrap_or_default();
    let mut cc = cc::Build::new();
    cc.include(dir)
        .warnings(false)
        .flag_if_supported("-fno-common")
        .files(files);
    if target.contains("linux") || target.contains("bsd") || target.contains("apple") {
        cc.define("LUA_USE_LINUX", None);
    } else if target.contains("windows") {
        cc.define("LUA_USE_WINDOWS", None);
    } else {
        cc.define("LUA_USE_POSIX", None);
    }
    // cargo_metadata(false): we print the link line ourselves with
    // whole-archive, because mlua-sys (which calls into Lua) is linked after
    // this crate and a plain static archive would leave its symbols unresolved.
    cc.cargo_metadata(false).compile("ferrous_lua51");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static:+whole-archive=ferrous_lua51");
    if target.contains("linux") {
        println!("cargo:rustc-link-lib=m");
        println!("cargo:rustc-link-lib=dl");
    }
    println!("cargo:rustc-env=FERROUS_LUA_PATCHED=cve-2025-49844,cve-2025-46817");
}
