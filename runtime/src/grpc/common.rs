//! `dozer.common.CommonGrpcService`: every endpoint through one service, rows as dynamically
//! typed `dozer.types.Record`s (for clients that discover endpoints at run time).

use super::common_proto::common_grpc_service_server::CommonGrpcService;
use super::common_proto::{
    CountResponse, Event, GetEndpointsRequest, GetEndpointsResponse, GetFieldsRequest,
    GetFieldsResponse, OnEventRequest, QueryRequest, QueryResponse,
};
use super::endpoint::{
    authorization, authorized_filter, authorized_query, blocking, forward, token_expiry,
    DynEndpoint, EventStream,
};
use super::{convert, GrpcContext};
use std::sync::Arc;
use tonic::{Request, Response, Status};

pub struct CommonService {
    ctx: GrpcContext,
    endpoints: Arc<[Arc<dyn DynEndpoint>]>,
}

impl CommonService {
    pub fn new(ctx: GrpcContext, endpoints: Arc<[Arc<dyn DynEndpoint>]>) -> Self {
        CommonService { ctx, endpoints }
    }

    /// The endpoint named `name`. The caller's token is checked first, so that names are not
    /// revealed to callers without one.
    fn endpoint(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        name: &str,
    ) -> Result<Arc<dyn DynEndpoint>, Status> {
        self.ctx.auth.authenticate(authorization(metadata))?;
        self.endpoints
            .iter()
            .find(|e| e.decl().name == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = self.endpoints.iter().map(|e| e.decl().name).collect();
                Status::not_found(format!(
                    "no endpoint named `{name}`; endpoints are: {}",
                    names.join(", ")
                ))
            })
    }
}

impl CommonService {
    /// The endpoint a `query` or `count` names, and its query as the caller's token allows.
    fn endpoint_query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<(Arc<dyn DynEndpoint>, crate::api::Query), Status> {
        let (metadata, _, request) = request.into_parts();
        let endpoint = self.endpoint(&metadata, &request.endpoint)?;
        let query = authorized_query(
            &self.ctx.auth,
            &metadata,
            request.query.as_deref(),
            endpoint.decl(),
        )?;
        Ok((endpoint, query))
    }
}

#[tonic::async_trait]
impl CommonGrpcService for CommonService {
    async fn query(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<QueryResponse>, Status> {
        let (endpoint, query) = self.endpoint_query(request)?;
        let fields = convert::fields(endpoint.decl().fields);
        let page = blocking(move || endpoint.query_records(&query)).await?;
        Ok(Response::new(QueryResponse {
            fields,
            records: page.rows,
            next_cursor: page.next_cursor,
            commit: page.commit,
        }))
    }

    async fn count(
        &self,
        request: Request<QueryRequest>,
    ) -> Result<Response<CountResponse>, Status> {
        let (endpoint, query) = self.endpoint_query(request)?;
        let count = blocking(move || endpoint.count_records(&query)).await?;
        Ok(Response::new(CountResponse { count }))
    }

    type OnEventStream = EventStream<Event>;

    async fn on_event(
        &self,
        request: Request<OnEventRequest>,
    ) -> Result<Response<Self::OnEventStream>, Status> {
        let (metadata, _, request) = request.into_parts();
        let endpoint = self.endpoint(&metadata, &request.endpoint)?;
        let filter = authorized_filter(
            &self.ctx.auth,
            &metadata,
            request.filter.as_deref(),
            endpoint.decl(),
        )?;
        let name = endpoint.decl().name;
        let expires = token_expiry(&self.ctx.auth, &metadata)?;
        let mut subscription = self.ctx.feed.subscribe(name);
        subscription.ready().await;
        Ok(Response::new(forward(
            subscription,
            name,
            expires,
            move |changes, position| {
                endpoint
                    .changes(changes, position, filter.as_ref())
                    .into_iter()
                    .map(|c| Event {
                        endpoint: name.to_string(),
                        typ: c.typ as i32,
                        old: c.old,
                        new: c.new,
                        position: Some(c.position),
                    })
                    .collect()
            },
        )))
    }

    async fn get_endpoints(
        &self,
        request: Request<GetEndpointsRequest>,
    ) -> Result<Response<GetEndpointsResponse>, Status> {
        self.ctx
            .auth
            .authenticate(authorization(request.metadata()))?;
        Ok(Response::new(GetEndpointsResponse {
            endpoints: self
                .endpoints
                .iter()
                .map(|e| e.decl().name.to_string())
                .collect(),
        }))
    }

    async fn get_fields(
        &self,
        request: Request<GetFieldsRequest>,
    ) -> Result<Response<GetFieldsResponse>, Status> {
        let endpoint = self.endpoint(request.metadata(), &request.get_ref().endpoint)?;
        let decl = endpoint.decl();
        Ok(Response::new(GetFieldsResponse {
            primary_index: decl.primary_key.iter().map(|k| k.to_string()).collect(),
            fields: convert::fields(decl.fields),
        }))
    }
}
