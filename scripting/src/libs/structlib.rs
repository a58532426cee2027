//! Placeholder: `structlib` is not implemented yet (an empty table).

/// The library table.
pub fn open(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    lua.create_table()
}
