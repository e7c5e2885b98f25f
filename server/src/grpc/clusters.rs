//! `workflows.v1.WorkflowsService`, the cluster part: runners find their cluster here.

use tonic::{Request, Response, Status};

use super::convert::status;
use super::proto::workflows::v1 as wf;
use super::proto::workflows::v1::workflows_service_server::WorkflowsService;
use super::{WorkflowApi, now_ns, unimplemented_rpcs};
use crate::store::workflow::Cluster;

fn cluster(cluster: Cluster) -> wf::Cluster {
    wf::Cluster {
        slug: cluster.slug,
        display_name: cluster.display_name,
        description: cluster.description,
        deletable: !cluster.is_default,
        deployed_releases: Vec::new(),
    }
}

#[tonic::async_trait]
impl WorkflowsService for WorkflowApi {
    /// `""` is the default cluster; the runner then uses the slug it gets back.
    async fn get_cluster(
        &self,
        request: Request<wf::GetClusterRequest>,
    ) -> Result<Response<wf::Cluster>, Status> {
        let slug = request.into_inner().cluster_slug;
        let found = self.store.cluster(&slug).await.map_err(status)?;
        found
            .map(|c| Response::new(cluster(c)))
            .ok_or_else(|| Status::not_found(format!("cluster {slug:?} not found")))
    }

    async fn list_clusters(
        &self,
        _request: Request<wf::ListClustersRequest>,
    ) -> Result<Response<wf::ListClustersResponse>, Status> {
        let clusters = self.store.clusters().await.map_err(status)?;
        Ok(Response::new(wf::ListClustersResponse {
            clusters: clusters.into_iter().map(cluster).collect(),
        }))
    }

    async fn create_cluster(
        &self,
        request: Request<wf::CreateClusterRequest>,
    ) -> Result<Response<wf::Cluster>, Status> {
        let request = request.into_inner();
        let created = self
            .store
            .create_cluster(
                &Cluster {
                    slug: request.slug,
                    display_name: request.name,
                    description: request.description,
                    is_default: false,
                },
                now_ns(),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(cluster(created)))
    }

    async fn delete_cluster(
        &self,
        request: Request<wf::DeleteClusterRequest>,
    ) -> Result<Response<wf::DeleteClusterResponse>, Status> {
        self.store
            .delete_cluster(&request.into_inner().cluster_slug)
            .await
            .map_err(status)?;
        Ok(Response::new(wf::DeleteClusterResponse {}))
    }

    async fn update_cluster(
        &self,
        request: Request<wf::UpdateClusterRequest>,
    ) -> Result<Response<wf::Cluster>, Status> {
        let request = request.into_inner();
        let updated = self
            .store
            .update_cluster(
                &request.cluster_slug,
                request.name.as_deref(),
                request.description.as_deref(),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(cluster(updated)))
    }

    unimplemented_rpcs! {
        create_workflow(wf::CreateWorkflowRequest) -> wf::Workflow;
        list_workflows(wf::ListWorkflowsRequest) -> wf::ListWorkflowsResponse;
        list_public_workflows(wf::ListPublicWorkflowsRequest) -> wf::ListPublicWorkflowsResponse;
        get_workflow(wf::GetWorkflowRequest) -> wf::Workflow;
        update_workflow(wf::UpdateWorkflowRequest) -> wf::Workflow;
        delete_workflow(wf::DeleteWorkflowRequest) -> wf::DeleteWorkflowResponse;
        publish_workflow_release(wf::PublishWorkflowReleaseRequest) -> wf::WorkflowRelease;
        unpublish_workflow_release(wf::UnpublishWorkflowReleaseRequest) -> wf::UnpublishWorkflowReleaseResponse;
        deploy_workflow_release(wf::DeployWorkflowReleaseRequest) -> wf::DeployWorkflowReleaseResponse;
        undeploy_workflow_release(wf::UndeployWorkflowReleaseRequest) -> wf::UndeployWorkflowReleaseResponse;
    }
}
