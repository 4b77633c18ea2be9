//! The change feed: every endpoint change, published after the commit that made it visible, to
//! live subscribers (gRPC `OnEvent`).
//!
//! Endpoint tables stage their changes while a source transaction is applied
//! ([`stage`], called by [`EndpointTable::apply`](crate::cache::EndpointTable::apply)); the
//! driver publishes them once the commit succeeded ([`ChangeFeed::publish`]) and discards them
//! when the transaction is dropped ([`discard`]). So a subscriber sees exactly the committed
//! changes, in commit order, and never part of a transaction.
//!
//! Staging is per thread (the driver's) and only for endpoints that had a subscriber when the
//! transaction began: a pipeline nobody listens to copies nothing. The consequence is that a
//! subscription starts with the first transaction that begins after it.
//!
//! Publishing never blocks the pipeline: each endpoint has a bounded broadcast channel, and a
//! subscriber that falls [`FEED_CAPACITY`] commits behind is cut off with an error (it can
//! query the endpoint and subscribe again).

use crate::types::Delta;
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Commits a subscriber may fall behind before it is cut off.
pub const FEED_CAPACITY: usize = 1024;

/// Where a committed transaction came from (see `dozer.types.Position`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitPosition {
    /// The cache commit number (`x-dozer-position`'s first part).
    pub commit: u64,
    /// The Postgres connection or file source whose transaction it was.
    pub source: String,
    /// The LSN at which the Postgres transaction ended, or the file's name.
    pub offset: String,
}

/// The changes one commit made to one endpoint: a `Vec<Delta<K, T>>` of the endpoint's key and
/// row types, which the endpoint's typed API downcasts.
pub struct CommittedChanges {
    pub position: CommitPosition,
    pub changes: Arc<dyn Any + Send + Sync>,
}

/// Per endpoint, the broadcast channel of its committed changes.
#[derive(Default)]
pub struct ChangeFeed {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<CommittedChanges>>>>,
}

impl ChangeFeed {
    pub fn new() -> Arc<ChangeFeed> {
        Arc::new(ChangeFeed::default())
    }

    /// A receiver of `endpoint`'s changes from the next transaction the driver begins.
    pub fn subscribe(&self, endpoint: &str) -> broadcast::Receiver<Arc<CommittedChanges>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(endpoint.to_string())
            .or_insert_with(|| broadcast::channel(FEED_CAPACITY).0)
            .subscribe()
    }

    /// The endpoints that have at least one subscriber now.
    fn subscribed(&self) -> HashSet<String> {
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .iter()
            .filter(|(_, sender)| sender.receiver_count() > 0)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Starts staging the changes of the transaction the calling thread is about to apply,
    /// for the endpoints someone subscribes to. Drops anything staged before.
    pub fn begin(&self) {
        let wanted = self.subscribed();
        STAGED.with(|staged| {
            *staged.borrow_mut() = (!wanted.is_empty()).then(|| Staging {
                wanted,
                changes: BTreeMap::new(),
            });
        });
    }

    /// Publishes what the calling thread staged since [`begin`](Self::begin): call right after
    /// the commit succeeded.
    pub fn publish(&self, position: CommitPosition) {
        let Some(staging) = STAGED.with(|staged| staged.borrow_mut().take()) else {
            return;
        };
        let channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        for (endpoint, changes) in staging.changes {
            if let Some(sender) = channels.get(&endpoint) {
                // An error only means every subscriber left meanwhile.
                let _ = sender.send(Arc::new(CommittedChanges {
                    position: position.clone(),
                    changes: changes.into_shared(),
                }));
            }
        }
    }
}

/// Drops what the calling thread staged: the transaction was not committed.
pub fn discard() {
    STAGED.with(|staged| *staged.borrow_mut() = None);
}

/// Records `changes` of `endpoint` for publication after the commit, if someone listens.
pub fn stage<K, T>(endpoint: &str, changes: &[Delta<K, T>])
where
    K: Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    STAGED.with(|staged| {
        let mut staged = staged.borrow_mut();
        let Some(staging) = staged.as_mut() else {
            return;
        };
        if !staging.wanted.contains(endpoint) {
            return;
        }
        let entry = staging
            .changes
            .entry(endpoint.to_string())
            .or_insert_with(|| Box::new(Vec::<Delta<K, T>>::new()));
        if let Some(list) = entry.as_any_mut().downcast_mut::<Vec<Delta<K, T>>>() {
            list.extend_from_slice(changes);
        }
    });
}

thread_local! {
    static STAGED: RefCell<Option<Staging>> = const { RefCell::new(None) };
}

struct Staging {
    wanted: HashSet<String>,
    changes: BTreeMap<String, Box<dyn StagedList>>,
}

/// A `Vec<Delta<K, T>>` behind a trait object that can be appended to and then shared.
trait StagedList: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_shared(self: Box<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<K, T> StagedList for Vec<Delta<K, T>>
where
    K: Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn into_shared(self: Box<Self>) -> Arc<dyn Any + Send + Sync> {
        Arc::new(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(commit: u64) -> CommitPosition {
        CommitPosition {
            commit,
            source: "files".into(),
            offset: format!("f{commit}.csv"),
        }
    }

    fn received(rx: &mut broadcast::Receiver<Arc<CommittedChanges>>) -> Vec<(u64, Vec<i64>)> {
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            let list = c.changes.downcast_ref::<Vec<Delta<i64, i64>>>().unwrap();
            out.push((
                c.position.commit,
                list.iter().map(|d| d.new.unwrap_or(-1)).collect(),
            ));
        }
        out
    }

    #[test]
    fn publishes_only_committed_changes_of_subscribed_endpoints() {
        let feed = ChangeFeed::new();
        // Nobody listens yet: nothing is staged.
        feed.begin();
        stage("a", &[Delta::insert(1i64, 10i64)]);
        feed.publish(position(1));

        let mut a = feed.subscribe("a");
        feed.begin();
        stage("a", &[Delta::insert(1i64, 11i64)]);
        stage("b", &[Delta::insert(1i64, 99i64)]);
        stage("a", &[Delta::insert(2i64, 12i64)]);
        feed.publish(position(2));

        // A dropped transaction publishes nothing.
        feed.begin();
        stage("a", &[Delta::insert(3i64, 13i64)]);
        discard();
        feed.publish(position(3));

        feed.begin();
        stage("a", &[Delta::delete(1i64, 11i64)]);
        feed.publish(position(4));
        assert_eq!(received(&mut a), [(2, vec![11, 12]), (4, vec![-1])]);
    }

    #[test]
    fn a_subscription_starts_with_the_next_transaction() {
        let feed = ChangeFeed::new();
        feed.begin();
        let mut late = feed.subscribe("a");
        stage("a", &[Delta::insert(1i64, 1i64)]);
        feed.publish(position(1));
        assert!(received(&mut late).is_empty());
    }
}
