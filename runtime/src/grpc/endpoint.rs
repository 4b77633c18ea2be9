//! One endpoint as the gRPC services see it: the typed service's queries and subscriptions
//! ([`TypedService`], driven by each generated service) and the object-safe view the common
//! service holds every endpoint through ([`DynEndpoint`]).

use super::{convert, types, GrpcContext};
use crate::api::{ApiError, Auth, EndpointApi, EndpointDecl, Filter, Page, Query, TypedEndpoint};
use crate::events::{ChangeFeed, CommitPosition, Subscription, MAX_STAGED_CHANGES};
use crate::types::{Delta, Record, TableKey};
use std::any::Any;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::Stream;
use tonic::metadata::MetadataMap;
use tonic::Status;

/// The response stream of an `OnEvent` call.
pub type EventStream<E> = Pin<Box<dyn Stream<Item = Result<E, Status>> + Send>>;

/// A timer that never fires (a year; tokio's timer cannot hold `Duration::MAX`).
const NEVER: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// Events a subscriber may have queued on its way out before its reader is considered slow.
const SUBSCRIBER_BUFFER: usize = 256;

/// One change of an endpoint's row, as a subscriber sees it through its filter.
pub struct Change<T> {
    pub typ: types::OperationType,
    pub old: Option<T>,
    pub new: Option<T>,
    pub position: types::Position,
}

/// What a generated typed service delegates to: parsing, authorization, reads off the async
/// workers, and subscriptions. The generated code only converts rows into its messages.
pub struct TypedService<K, T> {
    endpoint: Arc<TypedEndpoint<K, T>>,
    feed: Arc<ChangeFeed>,
    auth: Auth,
}

impl<K: TableKey, T: Record> TypedService<K, T> {
    pub fn new(ctx: &GrpcContext, endpoint: Arc<TypedEndpoint<K, T>>) -> Self {
        TypedService {
            endpoint,
            feed: ctx.feed.clone(),
            auth: ctx.auth.clone(),
        }
    }

    /// `query`: the page of rows matching the JSON query text.
    pub async fn query(
        &self,
        metadata: &MetadataMap,
        query: Option<&str>,
    ) -> Result<Page<T>, Status> {
        crate::metrics::endpoint_request(self.endpoint.decl().name);
        let query = authorized_query(&self.auth, metadata, query, self.endpoint.decl())?;
        let endpoint = self.endpoint.clone();
        Ok(blocking(move || endpoint.page(&query)).await?)
    }

    /// `count`: the number of rows matching the query's filter.
    pub async fn count(&self, metadata: &MetadataMap, query: Option<&str>) -> Result<u64, Status> {
        crate::metrics::endpoint_request(self.endpoint.decl().name);
        let query = authorized_query(&self.auth, metadata, query, self.endpoint.decl())?;
        let endpoint = self.endpoint.clone();
        Ok(blocking(move || endpoint.count_matching(&query).map(|(n, _)| n)).await?)
    }

    /// `OnEvent`: every committed change from the next transaction on, through `filter`, each
    /// turned into the service's event message by `event`.
    pub async fn subscribe<E, F>(
        &self,
        metadata: &MetadataMap,
        filter: Option<&str>,
        event: F,
    ) -> Result<EventStream<E>, Status>
    where
        E: Send + 'static,
        F: Fn(Change<T>) -> E + Send + 'static,
    {
        let decl = self.endpoint.decl();
        crate::metrics::endpoint_request(decl.name);
        let filter = authorized_filter(&self.auth, metadata, filter, decl)?;
        let expires = token_expiry(&self.auth, metadata)?;
        let mut subscription = self.feed.subscribe(decl.name);
        subscription.ready().await;
        Ok(forward(
            subscription,
            decl.name,
            expires,
            move |changes, position| {
                typed_changes::<K, T>(changes, position, filter.as_ref())
                    .into_iter()
                    .map(&event)
                    .collect()
            },
        ))
    }
}

/// An endpoint as the common service holds it: rows as `dozer.types.Record`s.
pub trait DynEndpoint: EndpointApi {
    fn query_records(&self, query: &Query) -> Result<Page<types::Record>, ApiError>;
    fn count_records(&self, query: &Query) -> Result<u64, ApiError>;
    /// The changes of one commit (of this endpoint) that pass `filter`, as records.
    fn changes(
        &self,
        changes: &(dyn Any + Send + Sync),
        position: &CommitPosition,
        filter: Option<&Filter>,
    ) -> Vec<Change<types::Record>>;
}

impl<K: TableKey, T: Record> DynEndpoint for TypedEndpoint<K, T> {
    fn query_records(&self, query: &Query) -> Result<Page<types::Record>, ApiError> {
        let page = self.page(query)?;
        Ok(Page {
            rows: page.rows.iter().map(convert::record).collect(),
            next_cursor: page.next_cursor,
            scanned: page.scanned,
            commit: page.commit,
        })
    }

    fn count_records(&self, query: &Query) -> Result<u64, ApiError> {
        Ok(self.count_matching(query)?.0)
    }

    fn changes(
        &self,
        changes: &(dyn Any + Send + Sync),
        position: &CommitPosition,
        filter: Option<&Filter>,
    ) -> Vec<Change<types::Record>> {
        typed_changes::<K, T>(changes, position, filter)
            .into_iter()
            .map(|c| Change {
                typ: c.typ,
                old: c.old.as_ref().map(convert::record),
                new: c.new.as_ref().map(convert::record),
                position: c.position,
            })
            .collect()
    }
}

/// The `authorization` metadata value, if it is text.
pub(super) fn authorization(metadata: &MetadataMap) -> Option<&str> {
    metadata.get("authorization").and_then(|v| v.to_str().ok())
}

/// Checks the caller's token for `decl` and parses its query's JSON text (absent or blank: the
/// first page in key order), restricted to the rows the token may read.
pub(super) fn authorized_query(
    auth: &Auth,
    metadata: &MetadataMap,
    text: Option<&str>,
    decl: &EndpointDecl,
) -> Result<Query, Status> {
    let restriction = auth.authorize(authorization(metadata), decl)?;
    let mut query = Query::from_body(text.unwrap_or_default().as_bytes(), decl.fields)?;
    if let Some(filter) = restriction {
        query.restrict(filter);
    }
    Ok(query)
}

/// When the caller's token expires (`None`: security is off): a subscription ends then.
pub(super) fn token_expiry(
    auth: &Auth,
    metadata: &MetadataMap,
) -> Result<Option<std::time::SystemTime>, Status> {
    Ok(auth
        .authenticate(authorization(metadata))?
        .map(|claims| std::time::UNIX_EPOCH + std::time::Duration::from_secs(claims.exp)))
}

/// Checks the caller's token for `decl` and parses an `OnEvent` filter's JSON text (absent or
/// blank: every change), restricted to the rows the token may read.
pub(super) fn authorized_filter(
    auth: &Auth,
    metadata: &MetadataMap,
    text: Option<&str>,
    decl: &EndpointDecl,
) -> Result<Option<Filter>, Status> {
    let restriction = auth.authorize(authorization(metadata), decl)?;
    let text = text.unwrap_or_default();
    let own = if text.trim().is_empty() {
        None
    } else {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("filter is not JSON: {e}")))?;
        Some(Filter::parse(&json, decl.fields)?)
    };
    Ok(match (own, restriction) {
        (Some(own), Some(restriction)) => Some(Filter::And(vec![own, restriction])),
        (own, restriction) => own.or(restriction),
    })
}

/// The changes of one commit as a subscriber with `filter` sees them: an update whose row
/// leaves the filter is a delete, one whose row enters it an insert.
fn typed_changes<K: TableKey, T: Record>(
    changes: &(dyn Any + Send + Sync),
    position: &CommitPosition,
    filter: Option<&Filter>,
) -> Vec<Change<T>> {
    let Some(deltas) = changes.downcast_ref::<Vec<Delta<K, T>>>() else {
        return Vec::new();
    };
    let passes = |row: &Option<T>| -> Option<T> {
        row.as_ref()
            .filter(|row| filter.is_none_or(|f| f.matches(*row)))
            .cloned()
    };
    let position = to_proto_position(position);
    deltas
        .iter()
        .filter_map(|delta| {
            let (old, new) = (passes(&delta.old), passes(&delta.new));
            let typ = match (&old, &new) {
                (Some(_), Some(_)) => types::OperationType::Update,
                (Some(_), None) => types::OperationType::Delete,
                (None, Some(_)) => types::OperationType::Insert,
                (None, None) => return None,
            };
            Some(Change {
                typ,
                old,
                new,
                position: position.clone(),
            })
        })
        .collect()
}

fn to_proto_position(p: &CommitPosition) -> types::Position {
    types::Position {
        commit: p.commit,
        source: p.source.clone(),
        offset: p.offset.clone(),
    }
}

/// Turns a feed subscription into a response stream, converting each commit's changes with
/// `convert`. A task forwards events into a bounded queue; when the client reads too slowly,
/// the feed runs ahead of the task and the subscription ends with RESOURCE_EXHAUSTED, so a slow
/// subscriber never holds the pipeline back. The task ends as soon as the client leaves.
pub(super) fn forward<E, F>(
    subscription: Subscription,
    endpoint: &'static str,
    expires: Option<std::time::SystemTime>,
    convert: F,
) -> EventStream<E>
where
    E: Send + 'static,
    F: Fn(&(dyn Any + Send + Sync), &CommitPosition) -> Vec<E> + Send + 'static,
{
    let mut receiver = subscription.receiver;
    let (out, events) = mpsc::channel(SUBSCRIBER_BUFFER);
    // A stream lives no longer than the token that opened it.
    let left = expires.map(|at| {
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
    });
    let expiry = tokio::time::sleep(left.unwrap_or(NEVER));
    tokio::spawn(async move {
        tokio::pin!(expiry);
        loop {
            let received = tokio::select! {
                _ = out.closed() => return, // The client left.
                _ = &mut expiry, if left.is_some() => {
                    let status = Status::unauthenticated(
                        "expired token: the subscription ends with the token; subscribe again with a new one",
                    );
                    let _ = out.send(Err(status)).await;
                    return;
                }
                received = receiver.recv() => received,
            };
            let status = match received {
                Ok(committed) => {
                    let Some(changes) = &committed.changes else {
                        let status = Status::resource_exhausted(format!(
                            "commit {} changed more than {MAX_STAGED_CHANGES} rows of `{endpoint}`, \
                             too many to stream; query the endpoint and subscribe again",
                            committed.position.commit
                        ));
                        let _ = out.send(Err(status)).await;
                        return;
                    };
                    for event in convert(changes.as_ref(), &committed.position) {
                        if out.send(Ok(event)).await.is_err() {
                            return; // The client left.
                        }
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => Status::resource_exhausted(
                    format!(
                        "this subscriber to `{endpoint}` read too slowly and missed {missed} commits; \
                         query the endpoint and subscribe again"
                    ),
                ),
                Err(broadcast::error::RecvError::Closed) => {
                    Status::unavailable("the pipeline is shutting down")
                }
            };
            let _ = out.send(Err(status)).await;
            return;
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(events))
}

/// Runs a redb read off the async workers.
pub(super) async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("the request failed: {e}")))?
}
