//! Relay connections over lists the hub returns whole (a person's orgs, an
//! org's members and workspaces are small): cursors are positions.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ErrorExtensions, OutputType, SimpleObject};

/// Largest page; the default is [`DEFAULT_PAGE`].
pub(crate) const MAX_PAGE: i32 = 100;
pub(crate) const DEFAULT_PAGE: i32 = 20;

/// Extra fields on every connection.
#[derive(Debug, SimpleObject)]
pub(crate) struct Totals {
    /// How many items there are in all.
    pub total_count: usize,
}

pub(crate) type Page<T> = Connection<String, T, Totals>;

/// Checks `first` (1–100).
pub(crate) fn page_size(first: Option<i32>) -> async_graphql::Result<usize> {
    match first.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(usize::try_from(n).unwrap_or(1)),
        n => Err(async_graphql::Error::new(format!("`first` must be between 1 and {MAX_PAGE}, not {n}"))
            .extend_with(|_, e| e.set("code", "INVALID"))),
    }
}

/// One page of `items` after the cursor `after`.
pub(crate) fn page<T: OutputType>(
    items: Vec<T>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Page<T>> {
    let size = page_size(first)?;
    let start = match after {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map(|position| position + 1).map_err(|_| {
            async_graphql::Error::new("`after` is not a cursor of this list")
                .extend_with(|_, e| e.set("code", "INVALID"))
        })?,
    };
    let total = items.len();
    let mut connection =
        Connection::with_additional_fields(start > 0, start + size < total, Totals { total_count: total });
    connection.edges =
        items.into_iter().enumerate().skip(start).take(size).map(|(i, item)| Edge::new(i.to_string(), item)).collect();
    Ok(connection)
}
