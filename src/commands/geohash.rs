//! Geohash arithmetic for the geo commands: Redis's 52-bit interleaved
//! geohash (26 bits of longitude and latitude over the Web-Mercator
//! latitude band), cell decoding, neighbours, the search-area estimate and
//! haversine distances on Redis's earth radius. Written from the published
//! geohash description; results must equal Redis's to the last bit, so the
//! float operations follow the same formulas in the same order.

/// Earth radius Redis uses, in metres.
pub const EARTH_RADIUS: f64 = 6372797.560856;
/// Longitude bounds.
pub const LON_MIN: f64 = -180.0;
/// Longitude bounds.
pub const LON_MAX: f64 = 180.0;
/// Latitude bounds of the Web-Mercator band geo sets use.
pub const LAT_MIN: f64 = -85.05112878;
/// Latitude bounds of the Web-Mercator band geo sets use.
pub const LAT_MAX: f64 = 85.05112878;
/// Full precision: 26 steps, 52 bits.
pub const STEP_MAX: u32 = 26;
/// Half the Mercator projection's extent, in metres.
const MERCATOR_MAX: f64 = 20037726.37;

/// A geohash of `step` bits per coordinate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hash {
    /// Interleaved bits (latitude in even positions, longitude in odd).
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u32,
}

/// A decoded cell.
#[derive(Clone, Copy, Debug)]
pub struct Area {
    /// Longitude interval.
    pub lon: (f64, f64),
    /// Latitude interval.
    pub lat: (f64, f64),
}

/// Spreads the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bit positions of `x` into a u32.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF;
    x as u32
}

/// Encodes a point with `step` bits per coordinate over the given ranges.
pub fn encode_in(lon_r: (f64, f64), lat_r: (f64, f64), lon: f64, lat: f64, step: u32) -> Hash {
    let scale = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.0) / (lat_r.1 - lat_r.0) * scale;
    let lon_off = (lon - lon_r.0) / (lon_r.1 - lon_r.0) * scale;
    // C's double→uint32 conversion truncates toward zero.
    let bits = spread(lat_off as u32) | (spread(lon_off as u32) << 1);
    Hash { bits, step }
}

/// Encodes a point in the geo-set ranges.
pub fn encode(lon: f64, lat: f64, step: u32) -> Hash {
    encode_in((LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX), lon, lat, step)
}

/// The cell a hash stands for, in the given ranges.
pub fn decode_in(lon_r: (f64, f64), lat_r: (f64, f64), h: Hash) -> Area {
    let ilat = squash(h.bits);
    let ilon = squash(h.bits >> 1);
    let div = (1u64 << h.step) as f64;
    let lat_scale = lat_r.1 - lat_r.0;
    let lon_scale = lon_r.1 - lon_r.0;
    // The +1 wraps like C's 32-bit unsigned arithmetic.
    Area {
        lat: (
            lat_r.0 + (ilat as f64 / div) * lat_scale,
            lat_r.0 + (ilat.wrapping_add(1) as f64 / div) * lat_scale,
        ),
        lon: (
            lon_r.0 + (ilon as f64 / div) * lon_scale,
            lon_r.0 + (ilon.wrapping_add(1) as f64 / div) * lon_scale,
        ),
    }
}

/// The cell a hash stands for in the geo-set ranges.
pub fn decode(h: Hash) -> Area {
    decode_in((LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX), h)
}

/// The point a 52-bit score stands for: its cell's centre, clamped.
pub fn score_to_lonlat(score: f64) -> (f64, f64) {
    let a = decode(Hash {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((a.lon.0 + a.lon.1) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.0 + a.lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The 11-character standard geohash string of a stored score (re-encoded
/// over the standard ±90° latitude range; the 11th character has no bits
/// left and is always `0`).
pub fn hash_string(score: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = score_to_lonlat(score);
    let h = encode_in((-180.0, 180.0), (-90.0, 90.0), lon, lat, STEP_MAX);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        let idx = (h.bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = ALPHABET[idx as usize];
    }
    out
}

fn deg_rad(d: f64) -> f64 {
    d * (std::f64::consts::PI / 180.0)
}

fn rad_deg(r: f64) -> f64 {
    r / (std::f64::consts::PI / 180.0)
}

/// Distance along a meridian between two latitudes.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// Haversine distance in metres.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let lon1r = deg_rad(lon1);
    let lon2r = deg_rad(lon2);
    let v = ((lon2r - lon1r) / 2.0).sin();
    // Same meridian: the meridian distance is exact and cheaper.
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// A search shape, sizes in metres.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Within `radius` of the centre.
    Radius(f64),
    /// Within a `width` × `height` box centred on the centre.
    Box(f64, f64),
}

/// The distance from the centre if the point is inside the shape.
pub fn within(shape: Shape, center: (f64, f64), p: (f64, f64)) -> Option<f64> {
    match shape {
        Shape::Radius(r) => {
            let d = distance(center.0, center.1, p.0, p.1);
            (d <= r).then_some(d)
        }
        Shape::Box(w, h) => {
            if lat_distance(p.1, center.1) > h / 2.0 {
                return None;
            }
            if distance(p.0, p.1, center.0, p.1) > w / 2.0 {
                return None;
            }
            Some(distance(center.0, center.1, p.0, p.1))
        }
    }
}

/// Step count whose cells are about the size of `range` metres at `lat`.
fn steps_for_radius(mut range: f64, lat: f64) -> u32 {
    if range == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    // Meridians converge towards the poles: use bigger cells there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, STEP_MAX as i32) as u32
}

/// Moves a hash one cell along longitude (`d` = ±1).
fn move_x(h: &mut Hash, d: i32) {
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> (64 - h.step * 2);
    let x = if d > 0 {
        x.wrapping_add(zz + 1)
    } else {
        (x | zz).wrapping_sub(zz + 1)
    };
    h.bits = (x & (0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step * 2))) | y;
}

/// Moves a hash one cell along latitude (`d` = ±1).
fn move_y(h: &mut Hash, d: i32) {
    let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xaaaa_aaaa_aaaa_aaaau64 >> (64 - h.step * 2);
    let y = if d > 0 {
        y.wrapping_add(zz + 1)
    } else {
        (y | zz).wrapping_sub(zz + 1)
    };
    h.bits = x | (y & (0x5555_5555_5555_5555u64 >> (64 - h.step * 2)));
}

fn neighbour(h: Hash, dx: i32, dy: i32) -> Hash {
    let mut n = h;
    if dx != 0 {
        move_x(&mut n, dx);
    }
    if dy != 0 {
        move_y(&mut n, dy);
    }
    n
}

/// The cells to scan for a search around `center` (lon, lat): the centre
/// cell and its eight neighbours, in Redis's order (centre, N, S, E, W,
/// NE, NW, SE, SW), `None` for neighbours that cannot hold a match.
pub fn search_cells(shape: Shape, center: (f64, f64)) -> [Option<Hash>; 9] {
    let (lon, lat) = center;
    let (half_h, half_w) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box(w, h) => (h / 2.0, w / 2.0),
    };
    // Bounding box of the shape.
    let lat_delta = rad_deg(half_h / EARTH_RADIUS);
    let lon_delta_top = rad_deg(half_w / EARTH_RADIUS / deg_rad(lat + lat_delta).cos());
    let lon_delta_bottom = rad_deg(half_w / EARTH_RADIUS / deg_rad(lat - lat_delta).cos());
    let (min_lon, max_lon) = if lat < 0.0 {
        (lon - lon_delta_bottom, lon + lon_delta_bottom)
    } else {
        (lon - lon_delta_top, lon + lon_delta_top)
    };
    let (min_lat, max_lat) = (lat - lat_delta, lat + lat_delta);
    let radius = match shape {
        Shape::Radius(r) => r,
        Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    };
    let mut steps = steps_for_radius(radius, lat);
    let mut hash = encode(lon, lat, steps);
    let cells = |h: Hash| {
        [
            neighbour(h, 0, 1),
            neighbour(h, 0, -1),
            neighbour(h, 1, 0),
            neighbour(h, -1, 0),
        ]
    };
    // If a neighbour does not reach the bounding box, cells are too small.
    let [n, s, e, w] = cells(hash).map(decode);
    let too_small =
        n.lat.1 < max_lat || s.lat.0 > min_lat || e.lon.1 < max_lon || w.lon.0 > min_lon;
    if steps > 1 && too_small {
        steps -= 1;
        hash = encode(lon, lat, steps);
    }
    let area = decode(hash);
    let mut out = [
        Some(hash),
        Some(neighbour(hash, 0, 1)),
        Some(neighbour(hash, 0, -1)),
        Some(neighbour(hash, 1, 0)),
        Some(neighbour(hash, -1, 0)),
        Some(neighbour(hash, 1, 1)),
        Some(neighbour(hash, -1, 1)),
        Some(neighbour(hash, 1, -1)),
        Some(neighbour(hash, -1, -1)),
    ];
    const N: usize = 1;
    const S: usize = 2;
    const E: usize = 3;
    const W: usize = 4;
    const NE: usize = 5;
    const NW: usize = 6;
    const SE: usize = 7;
    const SW: usize = 8;
    if steps >= 2 {
        if area.lat.0 < min_lat {
            for i in [S, SW, SE] {
                out[i] = None;
            }
        }
        if area.lat.1 > max_lat {
            for i in [N, NE, NW] {
                out[i] = None;
            }
        }
        if area.lon.0 < min_lon {
            for i in [W, SW, NW] {
                out[i] = None;
            }
        }
        if area.lon.1 > max_lon {
            for i in [E, SE, NE] {
                out[i] = None;
            }
        }
    }
    out
}

/// The score interval `[min, max)` of the 52-bit hashes inside cell `h`.
pub fn cell_scores(h: Hash) -> (f64, f64) {
    let shift = 52 - h.step * 2;
    ((h.bits << shift) as f64, ((h.bits + 1) << shift) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_round_trip() {
        for v in [0u32, 1, 0xffff_ffff, 0x1234_5678] {
            assert_eq!(squash(spread(v)), v);
        }
    }

    #[test]
    fn palermo_matches_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score.
        let h = encode(13.361389, 38.115556, STEP_MAX);
        assert_eq!(h.bits, 3479099956230698);
        assert_eq!(&hash_string(h.bits as f64), b"sqc8b49rny0");
    }
}
