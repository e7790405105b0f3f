//! Relay connections over lists the hub returns whole (a person's orgs, an
//! org's members and workspaces are small): cursors are positions.

use async_graphql::OutputType;
use async_graphql::SimpleObject;
use async_graphql::connection::{Connection, Edge};
use strata_api_types::ErrorCode;

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
        n => Err(super::caller::coded(
            ErrorCode::InvalidArgument,
            format!("`first` must be between 1 and {MAX_PAGE}, not {n}"),
        )),
    }
}

/// Checks `first` of a list a workspace server pages (commits, jobs):
/// the same range and error as a connection's.
pub(crate) fn list_limit(first: u32) -> async_graphql::Result<u64> {
    let size = page_size(Some(i32::try_from(first).unwrap_or(i32::MAX)))?;
    Ok(size as u64)
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
        Some(cursor) => cursor
            .parse::<usize>()
            .map(|position| position + 1)
            .map_err(|_| super::caller::coded(ErrorCode::InvalidArgument, "`after` is not a cursor of this list"))?,
    };
    let total = items.len();
    let mut connection =
        Connection::with_additional_fields(start > 0, start + size < total, Totals { total_count: total });
    connection.edges =
        items.into_iter().enumerate().skip(start).take(size).map(|(i, item)| Edge::new(i.to_string(), item)).collect();
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: async_graphql::Result<impl std::fmt::Debug>) -> String {
        let error = result.expect_err("refused");
        let extensions = error.extensions.expect("extensions");
        format!("{:?}", extensions.get("code").expect("a code"))
    }

    #[test]
    fn page_sizes_outside_one_to_a_hundred_are_refused_with_a_typed_error() {
        for first in [0, -1, MAX_PAGE + 1, i32::MAX] {
            assert!(code(page_size(Some(first))).contains("INVALID_ARGUMENT"), "{first}");
        }
        for first in [0, 101, 2_147_483_647, u32::MAX] {
            assert!(code(list_limit(first)).contains("INVALID_ARGUMENT"), "{first}");
        }
        assert_eq!(page_size(None).ok(), Some(20));
        assert_eq!(list_limit(1).ok(), Some(1));
        assert_eq!(list_limit(100).ok(), Some(100));
    }
}
