//! Geo commands on top of sorted sets (a member's score is its 52-bit
//! geohash): GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH, GEOSEARCHSTORE,
//! GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms. The hash and
//! distance arithmetic is in `geohash.rs`.

use bytes::Bytes;
use ferrous_storage::zset::ZSet;
use ferrous_storage::Version;

use super::geohash::{self, Shape};
use super::keyspec::*;
use super::zset::{limits, parse_score, put_zset, store_zset, take_zset, zset_read};
use super::{events, int_arg, is, Ctx, Handler::*};
use crate::cmd;
use crate::errors;

/// The geo commands.
pub static COMMANDS: &[super::CommandSpec] = &[
    cmd!("geoadd", -5, [WRITE, DENYOOM], (1, 1, 1), Write(geoadd), "geo",
        "Add one or more geospatial items in the geospatial index represented using a sorted set", "3.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RW | UPDATE, 1, 0, 1, 0)], subs: &[]),
    cmd!("geodist", -4, [READONLY], (1, 1, 1), Read(geodist), "geo",
        "Returns the distance between two members of a geospatial index", "3.2.0",
        "O(log(N))",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("geohash", -2, [READONLY], (1, 1, 1), Read(geohash_cmd), "geo",
        "Returns members of a geospatial index as standard geohash strings", "3.2.0",
        "O(log(N)) for each member requested, where N is the number of elements in the sorted set.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("geopos", -2, [READONLY], (1, 1, 1), Read(geopos), "geo",
        "Returns longitude and latitude of members of a geospatial index", "3.2.0",
        "O(N) where N is the number of members requested.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("geosearch", -7, [READONLY], (1, 1, 1), Read(geosearch), "geo",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle.", "6.2.0",
        "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("geosearchstore", -8, [WRITE, DENYOOM], (1, 2, 1), Write(geosearchstore), "geo",
        "Query a sorted set representing a geospatial index to fetch members inside an area of a box or a circle, and store the result in another key.", "6.2.0",
        "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape",
        acl: [], tips: [],
        ks: [ks_range(OW | UPDATE, 1, 0, 1, 0), ks_range(RO | ACCESS, 2, 0, 1, 0)], subs: &[]),
    cmd!("georadius", -6, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Write(georadius), "geo",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a point", "3.2.0",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0), ks_keyword(OW | UPDATE, "STORE", 6, 0, 1, 0), ks_keyword(OW | UPDATE, "STOREDIST", 6, 0, 1, 0)], subs: &[]),
    cmd!("georadiusbymember", -5, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Write(georadiusbymember), "geo",
        "Query a sorted set representing a geospatial index to fetch members matching a given maximum distance from a member", "3.2.0",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0), ks_keyword(OW | UPDATE, "STORE", 5, 0, 1, 0), ks_keyword(OW | UPDATE, "STOREDIST", 5, 0, 1, 0)], subs: &[]),
    cmd!("georadius_ro", -6, [READONLY], (1, 1, 1), Read(georadius_ro), "geo",
        "A read-only variant for GEORADIUS", "3.2.10",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
    cmd!("georadiusbymember_ro", -5, [READONLY], (1, 1, 1), Read(georadiusbymember_ro), "geo",
        "A read-only variant for GEORADIUSBYMEMBER", "3.2.10",
        "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.",
        acl: [], tips: [],
        ks: [ks_range(RO | ACCESS, 1, 0, 1, 0)], subs: &[]),
];

/// Metres per unit, or the error Redis gives for an unknown unit.
fn unit(b: &[u8]) -> Result<f64, String> {
    Ok(if is(b, "m") {
        1.0
    } else if is(b, "km") {
        1000.0
    } else if is(b, "ft") {
        0.3048
    } else if is(b, "mi") {
        1609.34
    } else {
        return Err("ERR unsupported unit provided. please use M, KM, FT, MI".into());
    })
}

/// Parses a longitude/latitude pair and checks it is in the geo range.
fn lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), String> {
    let lon = parse_score(lon).ok_or(errors::NOT_FLOAT)?;
    let lat = parse_score(lat).ok_or(errors::NOT_FLOAT)?;
    if !(geohash::LON_MIN..=geohash::LON_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        ));
    }
    Ok((lon, lat))
}

/// Formats a coordinate like Redis's human long double form: 17 decimals,
/// trailing zeros trimmed.
fn fmt_coord(v: f64) -> String {
    let s = format!("{v:.17}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn reply_coord(ctx: &mut Ctx<'_>, v: f64) {
    let s = fmt_coord(v);
    if ctx.out.resp3 {
        ctx.out.raw(b",");
        ctx.out.raw(s.as_bytes());
        ctx.out.raw(b"\r\n");
    } else {
        ctx.out.bulk(s.as_bytes());
    }
}

/// A distance as Redis sends it: `%.4f` in a bulk string.
fn reply_dist(ctx: &mut Ctx<'_>, d: f64) {
    ctx.out.bulk(format!("{d:.4}").as_bytes());
}

fn geoadd(ctx: &mut Ctx<'_>, v: &mut Version) {
    let args = ctx.args;
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "nx") {
            nx = true;
        } else if is(&args[i], "xx") {
            xx = true;
        } else if is(&args[i], "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(3) || (nx && xx) {
        return ctx.err(errors::SYNTAX);
    }
    let mut pairs = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks(3) {
        match lonlat(&t[0], &t[1]) {
            Ok((lon, lat)) => {
                let h = geohash::encode(lon, lat, geohash::STEP_MAX);
                pairs.push((h.bits as f64, t[2].clone()));
            }
            Err(e) => return ctx.err(&e),
        }
    }
    let key = args[1].clone();
    let lim = limits(ctx);
    let mut z = match take_zset(ctx, v, &key) {
        Ok(Some(z)) => z,
        Ok(None) if xx => return ctx.out.int(0),
        Ok(None) => ZSet::with_hint(1, pairs[0].1.len(), lim),
        Err(e) => return ctx.err(e),
    };
    let (mut added, mut changed) = (0i64, 0i64);
    for (score, m) in &pairs {
        match z.score(m) {
            Some(old) => {
                if nx {
                    continue;
                }
                if old != *score {
                    z.insert(m, *score, lim);
                    changed += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                z.insert(m, *score, lim);
                added += 1;
            }
        }
    }
    put_zset(ctx, v, &key, z, added + changed > 0);
    if added + changed > 0 {
        ctx.notify(events::ZSET, "zadd", &key);
        ctx.key_ready(&key);
        ctx.dirty += (added + changed) as u64;
    }
    ctx.out.int(if ch { added + changed } else { added });
}

fn geodist(ctx: &mut Ctx<'_>, v: &Version) {
    let args = ctx.args;
    let to_m = match args.len() {
        4 => 1.0,
        5 => match unit(&args[4]) {
            Ok(u) => u,
            Err(e) => return ctx.err(&e),
        },
        _ => return ctx.err(errors::SYNTAX),
    };
    let z = match zset_read(ctx, v, &args[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return ctx.out.null(),
        Err(e) => return ctx.err(e),
    };
    match (z.score(&args[2]), z.score(&args[3])) {
        (Some(a), Some(b)) => {
            let (lon1, lat1) = geohash::score_to_lonlat(a);
            let (lon2, lat2) = geohash::score_to_lonlat(b);
            reply_dist(ctx, geohash::distance(lon1, lat1, lon2, lat2) / to_m);
        }
        _ => ctx.out.null(),
    }
}

fn geohash_cmd(ctx: &mut Ctx<'_>, v: &Version) {
    let z = match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => z,
        Err(e) => return ctx.err(e),
    };
    let members = &ctx.args[2..];
    ctx.out.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.out.bulk(&geohash::hash_string(s)),
            None => ctx.out.null(),
        }
    }
}

fn geopos(ctx: &mut Ctx<'_>, v: &Version) {
    let z = match zset_read(ctx, v, &ctx.args[1]) {
        Ok(z) => z,
        Err(e) => return ctx.err(e),
    };
    let members = &ctx.args[2..];
    ctx.out.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => {
                let (lon, lat) = geohash::score_to_lonlat(s);
                ctx.out.array(2);
                reply_coord(ctx, lon);
                reply_coord(ctx, lat);
            }
            None => ctx.out.null_array(),
        }
    }
}

/// Which command shape a search has.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// GEORADIUS[_RO]: `key lon lat radius unit`.
    Coords,
    /// GEORADIUSBYMEMBER[_RO]: `key member radius unit`.
    Member,
    /// GEOSEARCH / GEOSEARCHSTORE: FROM… and BY… options.
    Search,
}

/// A point found by a search.
struct Found {
    member: Bytes,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// Parses a radius and unit (`need numeric radius`, negative radius).
fn radius_arg(r: &[u8], u: &[u8]) -> Result<(f64, f64), String> {
    let r = parse_score(r).ok_or("ERR need numeric radius")?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, unit(u)?))
}

/// The whole GEORADIUS / GEOSEARCH family. `store_allowed` is false for
/// the `_RO` forms and GEOSEARCH; `search_store` is GEOSEARCHSTORE.
fn search_generic(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    kind: Kind,
    store_allowed: bool,
    search_store: bool,
) {
    match search_inner(ctx, v, kind, store_allowed, search_store) {
        Ok(()) => {}
        Err(e) => ctx.err(&e),
    }
}

fn search_inner(
    ctx: &mut Ctx<'_>,
    v: &mut Version,
    kind: Kind,
    store_allowed: bool,
    search_store: bool,
) -> Result<(), String> {
    let args: Vec<Bytes> = ctx.args.to_vec();
    let src_at = if search_store { 2 } else { 1 };
    let z = zset_read(ctx, v, &args[src_at])?.cloned();
    let mut center = (0.0, 0.0);
    let mut shape = Shape::Radius(0.0);
    let mut conv = 1.0;
    let base = match kind {
        Kind::Coords => {
            center = lonlat(&args[2], &args[3])?;
            let (r, u) = radius_arg(&args[4], &args[5])?;
            shape = Shape::Radius(r * u);
            conv = u;
            6
        }
        Kind::Member => {
            if let Some(z) = &z {
                let s = z
                    .score(&args[2])
                    .ok_or("ERR could not decode requested zset member")?;
                center = geohash::score_to_lonlat(s);
                let (r, u) = radius_arg(&args[3], &args[4])?;
                shape = Shape::Radius(r * u);
                conv = u;
            }
            5
        }
        Kind::Search => src_at + 1,
    };
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut count: i64 = 0;
    let mut store: Option<(Bytes, bool)> = if search_store {
        Some((args[1].clone(), false))
    } else {
        None
    };
    let search = kind == Kind::Search;
    let mut i = base;
    while i < args.len() {
        let a = &args[i];
        let left = args.len() - i - 1;
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            sort = Sort::Asc;
        } else if is(a, "desc") {
            sort = Sort::Desc;
        } else if is(a, "count") && left >= 1 {
            count = int_arg(&args[i + 1])?;
            if count <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && store_allowed && !search {
            store = Some((args[i + 1].clone(), is(a, "storedist")));
            i += 1;
        } else if is(a, "storedist") && search_store {
            if let Some(s) = &mut store {
                s.1 = true;
            }
        } else if is(a, "frommember") && left >= 1 && search && !fromloc {
            if let Some(z) = &z {
                let s = z
                    .score(&args[i + 1])
                    .ok_or("ERR could not decode requested zset member")?;
                center = geohash::score_to_lonlat(s);
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && search && !frommember {
            center = lonlat(&args[i + 1], &args[i + 2])?;
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && search && !bybox {
            let (r, u) = radius_arg(&args[i + 1], &args[i + 2])?;
            shape = Shape::Radius(r * u);
            conv = u;
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && search && !byradius {
            let w = parse_score(&args[i + 1]).ok_or("ERR need numeric width")?;
            let h = parse_score(&args[i + 2]).ok_or("ERR need numeric height")?;
            if w < 0.0 || h < 0.0 {
                return Err("ERR height or width cannot be negative".into());
            }
            let u = unit(&args[i + 3])?;
            shape = Shape::Box(w * u, h * u);
            conv = u;
            bybox = true;
            i += 3;
        } else {
            return Err(errors::SYNTAX.into());
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if search_store {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        ));
    }
    let name = String::from_utf8_lossy(&args[0]).into_owned();
    if search && !(frommember || fromloc) {
        return Err(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        ));
    }
    if search && !(byradius || bybox) {
        return Err(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        ));
    }
    if any && count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    let Some(z) = z else {
        match store {
            Some((dst, _)) => {
                let n = store_zset(ctx, v, &dst, ZSet::default(), "");
                ctx.out.int(n as i64);
            }
            None => ctx.out.array(0),
        }
        return Ok(());
    };
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    let mut found = collect(&z, shape, center, if any { count as usize } else { 0 });
    match sort {
        Sort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        Sort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
        Sort::None => {}
    }
    let n = if count > 0 {
        found.len().min(count as usize)
    } else {
        found.len()
    };
    found.truncate(n);
    match store {
        None => {
            let opts = withdist as usize + withhash as usize + withcoord as usize;
            ctx.out.array(n);
            for f in &found {
                if opts > 0 {
                    ctx.out.array(opts + 1);
                }
                ctx.out.bulk(&f.member);
                if withdist {
                    reply_dist(ctx, f.dist / conv);
                }
                if withhash {
                    ctx.out.int(f.score as i64);
                }
                if withcoord {
                    ctx.out.array(2);
                    reply_coord(ctx, f.lon);
                    reply_coord(ctx, f.lat);
                }
            }
        }
        Some((dst, storedist)) => {
            let lim = limits(ctx);
            let mut out = ZSet::with_hint(usize::MAX, usize::MAX, lim);
            for f in &found {
                out.insert(
                    &f.member,
                    if storedist { f.dist / conv } else { f.score },
                    lim,
                );
            }
            let event = if search {
                "geosearchstore"
            } else {
                "georadiusstore"
            };
            let stored = store_zset(ctx, v, &dst, out, event);
            ctx.out.int(stored as i64);
        }
    }
    Ok(())
}

/// Every member inside `shape` around `center`, cell by cell in Redis's
/// order, stopping once `limit` (if not 0) points are found.
fn collect(z: &ZSet, shape: Shape, center: (f64, f64), limit: usize) -> Vec<Found> {
    let cells = geohash::search_cells(shape, center);
    let mut out = Vec::new();
    let mut last: Option<geohash::Hash> = None;
    for (i, cell) in cells.iter().enumerate() {
        let Some(cell) = *cell else { continue };
        // Large radii make neighbouring cells coincide: skip a repeat of the
        // previously scanned one (the centre cell is never compared).
        if i > 0 && last.is_some_and(|l| l == cell) {
            continue;
        }
        if limit != 0 && out.len() >= limit {
            break;
        }
        let (min, max) = geohash::cell_scores(cell);
        let t = z.tree();
        let start = t.count_while(|x| x.score < min);
        for it in t.iter_from(start) {
            if it.score >= max {
                break;
            }
            let p = geohash::score_to_lonlat(it.score);
            if let Some(dist) = geohash::within(shape, center, p) {
                out.push(Found {
                    member: Bytes::copy_from_slice(&it.member),
                    score: it.score,
                    dist,
                    lon: p.0,
                    lat: p.1,
                });
                if limit != 0 && out.len() >= limit {
                    break;
                }
            }
        }
        if i > 0 {
            last = Some(cell);
        }
    }
    out
}

fn georadius(ctx: &mut Ctx<'_>, v: &mut Version) {
    search_generic(ctx, v, Kind::Coords, true, false)
}

fn georadiusbymember(ctx: &mut Ctx<'_>, v: &mut Version) {
    search_generic(ctx, v, Kind::Member, true, false)
}

fn geosearchstore(ctx: &mut Ctx<'_>, v: &mut Version) {
    search_generic(ctx, v, Kind::Search, false, true)
}

/// Read-only forms run on a private copy of the snapshot they get (cheap:
/// a version clone is one reference count) since the search body is shared
/// with the storing forms.
fn read_only(ctx: &mut Ctx<'_>, v: &Version, kind: Kind) {
    let mut v = v.clone();
    search_generic(ctx, &mut v, kind, false, false)
}

fn georadius_ro(ctx: &mut Ctx<'_>, v: &Version) {
    read_only(ctx, v, Kind::Coords)
}

fn georadiusbymember_ro(ctx: &mut Ctx<'_>, v: &Version) {
    read_only(ctx, v, Kind::Member)
}

fn geosearch(ctx: &mut Ctx<'_>, v: &Version) {
    read_only(ctx, v, Kind::Search)
}
