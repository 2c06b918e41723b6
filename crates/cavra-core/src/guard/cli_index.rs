//! The CLI table's index: program names and aliases (lowercased) → position of their entry
//! in the table's key order. `build.rs` builds it for the bundled packs (so a hook call on a
//! bundled pack builds none), `cli.rs` for any other table; both with [`build`].

use std::collections::BTreeMap;

/// The index of `entries` (`(program, aliases)` in key order), sorted by name. A name that
/// two entries claim (one's alias, another's program) goes to the later entry.
pub fn build<'a, A>(entries: impl IntoIterator<Item = (&'a str, A)>) -> Vec<(String, usize)>
where
    A: IntoIterator<Item = &'a str>,
{
    let mut by_name = BTreeMap::new();
    for (pos, (program, aliases)) in entries.into_iter().enumerate() {
        for name in std::iter::once(program).chain(aliases) {
            by_name.insert(name.to_ascii_lowercase(), pos);
        }
    }
    by_name.into_iter().collect()
}

/// The position of the entry for a lowercased program name in an index from [`build`].
pub fn find<S: AsRef<str>>(index: &[(S, usize)], name: &str) -> Option<usize> {
    index
        .binary_search_by(|(n, _)| n.as_ref().cmp(name))
        .ok()
        .and_then(|i| index.get(i))
        .map(|(_, pos)| *pos)
}
