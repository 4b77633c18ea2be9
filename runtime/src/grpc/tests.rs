//! The gRPC services' behaviour without a network: JWT security on typed calls, and `OnEvent`
//! (committed changes only, filtered, and a slow subscriber cut off instead of stalling).

use super::{GrpcContext, TypedService};
use crate::api::auth::{issue_token, Access, EndpointAccess};
use crate::api::fixtures::{row, sample_rows, store_with_rows, Key, Row, DECL};
use crate::api::{Auth, TypedEndpoint};
use crate::events::{self, ChangeFeed, CommitPosition, FEED_CAPACITY};
use crate::types::Delta;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::metadata::MetadataMap;
use tonic::Code;

const SECRET: &str = "a secret of at least thirty-two bytes, for HS256";

fn service(dir: &std::path::Path, auth: Auth) -> (TypedService<Key, Row>, Arc<ChangeFeed>) {
    let store = store_with_rows(dir, &sample_rows());
    let feed = ChangeFeed::new();
    let ctx = GrpcContext {
        store: store.clone(),
        feed: feed.clone(),
        auth,
    };
    let endpoint = Arc::new(TypedEndpoint::<Key, Row>::new(store, DECL));
    (TypedService::new(&ctx, endpoint), feed)
}

fn bearer(access: Access) -> MetadataMap {
    let token = issue_token(SECRET, &access, Duration::from_secs(60)).unwrap();
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    metadata
}

fn only(endpoint: &str, filter: Option<serde_json::Value>) -> Access {
    Access::Custom(BTreeMap::from([(
        endpoint.to_string(),
        EndpointAccess { filter },
    )]))
}

fn ns(rows: &[Row]) -> Vec<i64> {
    rows.iter().map(|r| r.n).collect()
}

#[tokio::test]
async fn calls_need_a_token_that_grants_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _) = service(dir.path(), Auth::new(Some(SECRET)));
    let missing = service
        .query(&MetadataMap::new(), None)
        .await
        .err()
        .unwrap();
    assert_eq!(missing.code(), Code::Unauthenticated, "{missing:?}");
    let mut forged = MetadataMap::new();
    forged.insert("authorization", "Bearer not.a.token".parse().unwrap());
    let forged = service.count(&forged, None).await.err().unwrap();
    assert_eq!(forged.code(), Code::Unauthenticated, "{forged:?}");
    let other = bearer(only("other_endpoint", None));
    let denied = service.query(&other, None).await.err().unwrap();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let subscribe = service
        .subscribe(&other, None, |c| c.typ)
        .await
        .err()
        .unwrap();
    assert_eq!(subscribe.code(), Code::PermissionDenied);

    let all = service.query(&bearer(Access::All), None).await.unwrap();
    assert_eq!(all.rows.len(), 4);
    // The token's filter restricts what its holder reads, on top of the query's own.
    let total_20 = bearer(only("sales", Some(serde_json::json!({"Total": 20}))));
    let page = service.query(&total_20, None).await.unwrap();
    assert_eq!(ns(&page.rows), [4, 2]);
    let page = service
        .query(&total_20, Some(r#"{"$filter": {"n": {"$gt": 2}}}"#))
        .await
        .unwrap();
    assert_eq!(ns(&page.rows), [4]);
    assert_eq!(service.count(&total_20, None).await.unwrap(), 2);
}

fn commit(feed: &ChangeFeed, commit: u64, changes: &[Delta<Key, Row>]) {
    feed.begin();
    events::stage(DECL.name, changes);
    feed.publish(CommitPosition {
        commit,
        source: "pg".into(),
        offset: format!("0/{commit:X}"),
    });
}

#[tokio::test]
async fn subscribers_see_committed_changes_through_their_filter() {
    let dir = tempfile::tempdir().unwrap();
    let (service, feed) = service(dir.path(), Auth::new(None));
    let none = MetadataMap::new();
    let summary = |c: super::Change<Row>| {
        (
            c.typ,
            c.old.map(|r| r.n),
            c.new.map(|r| r.n),
            c.position.commit,
        )
    };
    let mut everything = service.subscribe(&none, None, summary).await.unwrap();
    let mut uk = service
        .subscribe(&none, Some(r#"{"Country": "UK"}"#), summary)
        .await
        .unwrap();
    let uk_row = |n| row(Some("UK"), 10, n);
    let fr_row = |n| row(Some("FR"), 10, n);
    commit(&feed, 1, &[Delta::insert((Some("UK".into()),), uk_row(7))]);
    // Dropped before its commit: never delivered.
    feed.begin();
    events::stage(
        DECL.name,
        &[Delta::<Key, Row>::insert((Some("XX".into()),), uk_row(99))],
    );
    feed.discard();
    commit(
        &feed,
        2,
        &[Delta {
            key: (Some("UK".into()),),
            old: Some(uk_row(7)),
            new: Some(fr_row(8)),
        }],
    );
    commit(&feed, 3, &[Delta::delete((Some("UK".into()),), fr_row(8))]);

    use super::types::OperationType::{Delete, Insert, Update};
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(everything.next().await.unwrap().unwrap());
    }
    assert_eq!(
        got,
        [
            (Insert, None, Some(7), 1),
            (Update, Some(7), Some(8), 2),
            (Delete, Some(8), None, 3)
        ]
    );
    // The row left the filter: a delete of what the subscriber had seen.
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(uk.next().await.unwrap().unwrap());
    }
    assert_eq!(
        got,
        [(Insert, None, Some(7), 1), (Delete, Some(7), None, 2)]
    );
    let bad = service
        .subscribe(&none, Some(r#"{"Nope": 1}"#), summary)
        .await
        .err()
        .unwrap();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("unknown field `Nope`"), "{bad:?}");
}

#[tokio::test]
async fn a_slow_subscriber_is_cut_off_and_the_pipeline_never_waits() {
    let dir = tempfile::tempdir().unwrap();
    let (service, feed) = service(dir.path(), Auth::new(None));
    let mut slow = service
        .subscribe(&MetadataMap::new(), None, |c| c.position.commit)
        .await
        .unwrap();
    // Far more commits than the feed and the subscriber's queue hold, none read meanwhile:
    // publishing returns at once every time.
    let commits = (FEED_CAPACITY * 3) as u64;
    for n in 1..=commits {
        commit(
            &feed,
            n,
            &[Delta::insert(
                (Some("UK".into()),),
                row(Some("UK"), 1, n as i64),
            )],
        );
        if n % 256 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let mut delivered = Vec::new();
    let error = loop {
        match tokio::time::timeout(Duration::from_secs(10), slow.next()).await {
            Ok(Some(Ok(commit))) => delivered.push(commit),
            Ok(Some(Err(status))) => break status,
            other => panic!("the stream must end with an error, got {other:?}"),
        }
    };
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    assert!(error.message().contains("missed"), "{error:?}");
    assert!((delivered.len() as u64) < commits);
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "in commit order");
}

#[tokio::test]
async fn a_subscription_ends_when_its_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let (service, _feed) = service(dir.path(), Auth::new(Some(SECRET)));
    let token = issue_token(SECRET, &Access::All, Duration::from_secs(2)).unwrap();
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut events = service.subscribe(&metadata, None, |c| c.typ).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the stream ends within the token's lifetime and a moment");
    let status = ended.unwrap().err().unwrap();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().starts_with("expired token"), "{status:?}");
}
