//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO.

/// The bitmap commands.
pub static COMMANDS: &[super::CommandSpec] = &[];
