//! Pages answered since the last commit, per endpoint: between two commits the cache cannot
//! change, so a list or query request asked again (the first page, a dashboard's filter) is
//! answered with the bytes computed the first time instead of reading redb and encoding JSON
//! again.
//!
//! - **Fresh by construction.** Every page is stored with the store's version (its count of
//!   commits, [`Store::version`]) read before its query ran, so its rows are from that commit or
//!   a later one; a lookup at any other version empties the cache first. A response is never
//!   older than the position the request saw.
//! - **Only what every caller may see.** Requests restricted by a token's filter are not
//!   cached (`rest.rs` decides), and a request with `Cache-Control: no-cache` is computed anew.
//! - **Bounded.** At most [`MAX_PAGES`] pages of at most [`MAX_PAGE_BYTES`], [`MAX_BYTES`] in
//!   all; past that, pages are computed without being kept until the next commit.

use crate::cache::Store;
use axum::body::Bytes;
use axum::http::HeaderValue;
use std::collections::HashMap;
use std::sync::Mutex;

/// Pages kept per endpoint between two commits.
pub const MAX_PAGES: usize = 1024;
/// The largest page kept.
pub const MAX_PAGE_BYTES: usize = 256 * 1024;
/// Bytes of pages kept per endpoint.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// What a list or query request is answered with.
#[derive(Clone, Debug)]
pub struct CachedPage {
    /// The rows, one JSON array.
    pub json: Bytes,
    /// `x-dozer-next-cursor`.
    pub next_cursor: Option<HeaderValue>,
    /// `x-dozer-rows-scanned`: rows read when the page was computed.
    pub scanned: u64,
}

/// Which request a page answers: `GET /p?<query string>`, or `POST /p/query` with a body.
#[derive(Clone, Copy, Debug)]
pub enum PageKey<'a> {
    List(&'a str),
    Query(&'a [u8]),
}

/// One endpoint's pages at one version of the store.
pub struct PageCache {
    store: Store,
    inner: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    version: u64,
    lists: HashMap<Box<str>, CachedPage>,
    queries: HashMap<Box<[u8]>, CachedPage>,
    bytes: usize,
}

impl Pages {
    /// Empties the pages unless they were computed at `version`.
    fn at(&mut self, version: u64) -> &mut Pages {
        if self.version != version {
            self.lists.clear();
            self.queries.clear();
            self.bytes = 0;
            self.version = version;
        }
        self
    }
}

impl PageCache {
    pub fn new(store: Store) -> PageCache {
        PageCache {
            store,
            inner: Mutex::new(Pages::default()),
        }
    }

    /// The version to compute a page at, read before its query runs.
    pub fn version(&self) -> u64 {
        self.store.version()
    }

    /// The page answering `key` at the current version, if one was kept.
    pub fn get(&self, key: PageKey<'_>) -> Option<CachedPage> {
        let version = self.version();
        let mut pages = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let pages = pages.at(version);
        match key {
            PageKey::List(query) => pages.lists.get(query).cloned(),
            PageKey::Query(body) => pages.queries.get(body).cloned(),
        }
    }

    /// Keeps `page`, computed by a query that started at `version`, unless the store has moved
    /// on since or the cache is full.
    pub fn put(&self, version: u64, key: PageKey<'_>, page: &CachedPage) {
        let size = page.json.len();
        if size > MAX_PAGE_BYTES {
            return;
        }
        // A page computed before the latest commit may miss its changes.
        if self.version() != version {
            return;
        }
        let mut pages = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let pages = pages.at(version);
        if pages.lists.len() + pages.queries.len() >= MAX_PAGES || pages.bytes + size > MAX_BYTES {
            return;
        }
        let previous = match key {
            PageKey::List(query) => pages.lists.insert(query.into(), page.clone()),
            PageKey::Query(body) => pages.queries.insert(body.into(), page.clone()),
        };
        pages.bytes += size;
        if let Some(previous) = previous {
            pages.bytes -= previous.json.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> CachedPage {
        CachedPage {
            json: Bytes::from(text.to_string()),
            next_cursor: None,
            scanned: 3,
        }
    }

    fn commit(store: &Store) {
        let txn = store.begin_write().unwrap();
        store.commit(txn).unwrap();
    }

    #[test]
    fn a_page_is_served_until_the_next_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.redb")).unwrap();
        let cache = PageCache::new(store.clone());
        let at = cache.version();
        assert!(cache.get(PageKey::List("limit=5")).is_none());
        cache.put(at, PageKey::List("limit=5"), &page("[1]"));
        cache.put(at, PageKey::Query(b"{}"), &page("[2]"));
        let hit = cache.get(PageKey::List("limit=5")).unwrap();
        assert_eq!((&hit.json[..], hit.scanned), (&b"[1]"[..], 3));
        assert_eq!(&cache.get(PageKey::Query(b"{}")).unwrap().json[..], b"[2]");
        // The two kinds of request never answer each other.
        assert!(cache.get(PageKey::List("{}")).is_none());
        assert!(cache.get(PageKey::List("limit=6")).is_none());

        commit(&store);
        assert!(cache.get(PageKey::List("limit=5")).is_none());
        assert!(cache.get(PageKey::Query(b"{}")).is_none());
    }

    #[test]
    fn a_page_computed_before_a_commit_is_not_kept_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.redb")).unwrap();
        let cache = PageCache::new(store.clone());
        let before = cache.version();
        commit(&store);
        cache.put(before, PageKey::List(""), &page("[old]"));
        assert!(cache.get(PageKey::List("")).is_none());
        // Nor when the cache itself saw the newer version first.
        let stale = cache.version();
        commit(&store);
        assert!(cache.get(PageKey::List("")).is_none());
        cache.put(stale, PageKey::List(""), &page("[old]"));
        assert!(cache.get(PageKey::List("")).is_none());
    }

    #[test]
    fn a_commit_that_leaves_the_position_still_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.redb")).unwrap();
        let cache = PageCache::new(store.clone());
        cache.put(cache.version(), PageKey::List(""), &page("[]"));
        assert!(cache.get(PageKey::List("")).is_some());
        let txn = store.begin_write().unwrap();
        store.commit_unpositioned(txn).unwrap();
        assert_eq!(store.position().unwrap(), 0);
        assert!(cache.get(PageKey::List("")).is_none());
    }

    #[test]
    fn pages_past_the_bounds_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("cache.redb")).unwrap();
        let cache = PageCache::new(store);
        let at = cache.version();
        let big = "x".repeat(MAX_PAGE_BYTES + 1);
        cache.put(at, PageKey::List("big"), &page(&big));
        assert!(cache.get(PageKey::List("big")).is_none());
        for i in 0..MAX_PAGES + 10 {
            cache.put(at, PageKey::List(&i.to_string()), &page("[]"));
        }
        assert!(cache.get(PageKey::List("0")).is_some());
        assert!(cache
            .get(PageKey::List(&(MAX_PAGES - 1).to_string()))
            .is_some());
        assert!(cache.get(PageKey::List(&MAX_PAGES.to_string())).is_none());
    }
}
