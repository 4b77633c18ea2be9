//! `typed_service!`: the implementation of one endpoint's generated gRPC service trait, written
//! once here instead of in every generated crate. The generated code names the proto module,
//! the server trait and the record conversion; everything else is [`TypedService`].
//!
//! [`TypedService`]: crate::grpc::TypedService

/// Implements `$proto::$server::$service` (`query`, `count`, `OnEvent`) for `$grpc`, a tuple
/// struct over a `TypedService`, converting rows with `$convert`. `$proto` is the path of the
/// endpoint's generated package module (its `QueryRequest`, `QueryResponse`, `CountResponse`,
/// `EventRequest` and `Event`).
#[macro_export]
macro_rules! typed_service {
    ($grpc:ident, $($proto:ident)::+, $server:ident :: $service:ident, $convert:ident) => {
        #[::tonic::async_trait]
        impl $($proto)::+::$server::$service for $grpc {
            async fn query(
                &self,
                request: ::tonic::Request<$($proto)::+::QueryRequest>,
            ) -> ::std::result::Result<
                ::tonic::Response<$($proto)::+::QueryResponse>,
                ::tonic::Status,
            > {
                let page = self
                    .0
                    .query(request.metadata(), request.get_ref().query.as_deref())
                    .await?;
                Ok(::tonic::Response::new($($proto)::+::QueryResponse {
                    records: page.rows.iter().map($convert).collect(),
                    next_cursor: page.next_cursor,
                    commit: page.commit,
                }))
            }

            async fn count(
                &self,
                request: ::tonic::Request<$($proto)::+::QueryRequest>,
            ) -> ::std::result::Result<
                ::tonic::Response<$($proto)::+::CountResponse>,
                ::tonic::Status,
            > {
                let count = self
                    .0
                    .count(request.metadata(), request.get_ref().query.as_deref())
                    .await?;
                Ok(::tonic::Response::new($($proto)::+::CountResponse { count }))
            }

            type OnEventStream = $crate::grpc::EventStream<$($proto)::+::Event>;

            async fn on_event(
                &self,
                request: ::tonic::Request<$($proto)::+::EventRequest>,
            ) -> ::std::result::Result<::tonic::Response<Self::OnEventStream>, ::tonic::Status>
            {
                let events = self
                    .0
                    .subscribe(
                        request.metadata(),
                        request.get_ref().filter.as_deref(),
                        |change| $($proto)::+::Event {
                            typ: change.typ as i32,
                            old: change.old.as_ref().map($convert),
                            new: change.new.as_ref().map($convert),
                            position: Some(change.position),
                        },
                    )
                    .await?;
                Ok(::tonic::Response::new(events))
            }
        }
    };
}
