//! The change feed: every endpoint change, published after the commit that made it visible, to
//! live subscribers (gRPC `OnEvent`).
//!
//! Endpoint tables stage their changes while a source transaction is applied
//! ([`stage`], called by [`EndpointTable::apply`](crate::cache::EndpointTable::apply)); the
//! driver publishes them once the commit succeeded ([`ChangeFeed::publish`]) and discards them
//! when the transaction is dropped ([`ChangeFeed::discard`]). So a subscriber sees exactly the
//! committed changes, in commit order, and never part of a transaction.
//!
//! Staging is per thread (the driver's) and only for endpoints that had a subscriber when the
//! transaction began: a pipeline nobody listens to copies nothing. A subscription made while a
//! transaction that does not stage its endpoint is open is ready once that transaction ended
//! ([`Subscription::ready`]), so it never starts with a silent gap.
//!
//! Publishing never blocks the pipeline: each endpoint has a bounded broadcast channel, and a
//! subscriber that falls [`FEED_CAPACITY`] commits behind is cut off with an error (it can
//! query the endpoint and subscribe again).

use crate::types::Delta;
use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};

/// Commits a subscriber may fall behind before it is cut off.
pub const FEED_CAPACITY: usize = 1024;
/// Changes of one endpoint in one transaction beyond which they are not streamed (a snapshot
/// or a huge file would otherwise be held in memory whole): its subscribers are ended instead,
/// and re-query.
pub const MAX_STAGED_CHANGES: usize = 100_000;

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

/// The changes one commit made to one endpoint.
pub struct CommittedChanges {
    pub position: CommitPosition,
    /// A `Vec<Delta<K, T>>` of the endpoint's key and row types (downcast by the endpoint's
    /// typed API); `None` when the commit changed more than [`MAX_STAGED_CHANGES`] rows.
    pub changes: Option<Arc<dyn Any + Send + Sync>>,
}

/// Per endpoint, the broadcast channel of its committed changes.
pub struct ChangeFeed {
    state: Mutex<FeedState>,
    /// Counts transactions ended (committed or dropped): what a new subscriber waits on.
    ended: watch::Sender<u64>,
}

#[derive(Default)]
struct FeedState {
    channels: HashMap<String, broadcast::Sender<Arc<CommittedChanges>>>,
    /// The endpoints the open transaction stages, while one is open.
    open: Option<HashSet<String>>,
}

/// A subscription: its receiver, and the transaction it must wait out first.
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<CommittedChanges>>,
    ready_after: Option<(watch::Receiver<u64>, u64)>,
}

impl Subscription {
    /// Resolves once every commit from now on is delivered: at once, or when the transaction
    /// open at subscription (which does not stage this endpoint) has ended. Answering the
    /// client only then means that a query made after the answer plus the stream miss nothing.
    pub async fn ready(&mut self) {
        if let Some((ended, seen)) = &self.ready_after {
            let seen = *seen;
            let _ = ended.clone().wait_for(|now| *now > seen).await;
        }
        self.ready_after = None;
    }
}

impl ChangeFeed {
    pub fn new() -> Arc<ChangeFeed> {
        Arc::new(ChangeFeed {
            state: Mutex::new(FeedState::default()),
            ended: watch::channel(0).0,
        })
    }

    fn state(&self) -> MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes to `endpoint`'s committed changes.
    pub fn subscribe(&self, endpoint: &str) -> Subscription {
        let mut state = self.state();
        let receiver = state
            .channels
            .entry(endpoint.to_string())
            .or_insert_with(|| broadcast::channel(FEED_CAPACITY).0)
            .subscribe();
        let ready_after = match &state.open {
            Some(wanted) if !wanted.contains(endpoint) => {
                let ended = self.ended.subscribe();
                let seen = *ended.borrow();
                Some((ended, seen))
            }
            _ => None,
        };
        Subscription {
            receiver,
            ready_after,
        }
    }

    /// Starts staging the changes of the transaction the calling thread is about to apply,
    /// for the endpoints someone subscribes to. Drops anything staged before.
    pub fn begin(&self) {
        let mut state = self.state();
        let wanted: HashSet<String> = state
            .channels
            .iter()
            .filter(|(_, sender)| sender.receiver_count() > 0)
            .map(|(name, _)| name.clone())
            .collect();
        state.open = Some(wanted.clone());
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
        let staging = STAGED.with(|staged| staged.borrow_mut().take());
        let mut state = self.state();
        for (endpoint, changes) in staging.map(|s| s.changes).unwrap_or_default() {
            if let Some(sender) = state.channels.get(&endpoint) {
                // An error only means every subscriber left meanwhile.
                let _ = sender.send(Arc::new(CommittedChanges {
                    position: position.clone(),
                    changes: changes.into_shared(),
                }));
            }
        }
        self.end(&mut state);
    }

    /// Drops what the calling thread staged: the transaction was not committed.
    pub fn discard(&self) {
        STAGED.with(|staged| *staged.borrow_mut() = None);
        let mut state = self.state();
        self.end(&mut state);
    }

    fn end(&self, state: &mut FeedState) {
        if state.open.take().is_some() {
            self.ended.send_modify(|n| *n += 1);
        }
        // Endpoints nobody listens to any more stop costing a channel.
        state
            .channels
            .retain(|_, sender| sender.receiver_count() > 0);
    }
}

/// Whether the calling thread's open transaction stages `endpoint` (someone listens).
pub fn wants(endpoint: &str) -> bool {
    STAGED.with(|staged| {
        staged
            .borrow()
            .as_ref()
            .is_some_and(|s| s.wanted.contains(endpoint))
    })
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
            .or_insert_with(|| Staged::List(Box::new(Vec::<Delta<K, T>>::new())));
        if let Staged::List(list) = entry {
            if list.len() + changes.len() > MAX_STAGED_CHANGES {
                *entry = Staged::TooLarge;
            } else if let Some(list) = list.as_any_mut().downcast_mut::<Vec<Delta<K, T>>>() {
                list.extend_from_slice(changes);
            }
        }
    });
}

thread_local! {
    static STAGED: RefCell<Option<Staging>> = const { RefCell::new(None) };
}

struct Staging {
    wanted: HashSet<String>,
    changes: BTreeMap<String, Staged>,
}

enum Staged {
    List(Box<dyn StagedList>),
    /// More than [`MAX_STAGED_CHANGES`]: dropped.
    TooLarge,
}

impl Staged {
    fn into_shared(self) -> Option<Arc<dyn Any + Send + Sync>> {
        match self {
            Staged::List(list) => Some(list.into_shared()),
            Staged::TooLarge => None,
        }
    }
}

/// A `Vec<Delta<K, T>>` behind a trait object that can be appended to and then shared.
trait StagedList: Send {
    fn len(&self) -> usize;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_shared(self: Box<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<K, T> StagedList for Vec<Delta<K, T>>
where
    K: Send + Sync + 'static,
    T: Send + Sync + 'static,
{
    fn len(&self) -> usize {
        Vec::len(self)
    }

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

    fn received(rx: &mut Subscription) -> Vec<(u64, Vec<i64>)> {
        let mut out = Vec::new();
        while let Ok(c) = rx.receiver.try_recv() {
            let Some(list) = &c.changes else {
                out.push((c.position.commit, vec![i64::MIN]));
                continue;
            };
            let list = list.downcast_ref::<Vec<Delta<i64, i64>>>().unwrap();
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
        feed.discard();

        feed.begin();
        stage("a", &[Delta::delete(1i64, 11i64)]);
        feed.publish(position(4));
        assert_eq!(received(&mut a), [(2, vec![11, 12]), (4, vec![-1])]);
    }

    #[tokio::test]
    async fn a_subscription_made_mid_transaction_is_ready_after_it() {
        let feed = ChangeFeed::new();
        feed.begin();
        let mut late = feed.subscribe("a");
        stage("a", &[Delta::insert(1i64, 1i64)]);
        let ready = tokio::time::timeout(std::time::Duration::from_millis(50), late.ready());
        assert!(
            ready.await.is_err(),
            "not ready while that transaction is open"
        );
        feed.publish(position(1));
        late.ready().await;
        feed.begin();
        stage("a", &[Delta::insert(2i64, 2i64)]);
        feed.publish(position(2));
        assert_eq!(received(&mut late), [(2, vec![2])]);
        // With no transaction open, a subscription is ready at once.
        let mut now = feed.subscribe("a");
        now.ready().await;
    }

    #[test]
    fn a_transaction_too_large_to_stream_is_marked_not_sent() {
        let feed = ChangeFeed::new();
        let mut a = feed.subscribe("a");
        feed.begin();
        let many: Vec<Delta<i64, i64>> = (0..1000).map(|i| Delta::insert(i, i)).collect();
        for _ in 0..=(MAX_STAGED_CHANGES / 1000) {
            stage("a", &many);
        }
        feed.publish(position(1));
        assert_eq!(received(&mut a), [(1, vec![i64::MIN])]);
    }
}
