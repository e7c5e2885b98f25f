//! Clusters: the named queues tasks are submitted to and runners take work from.

use super::Cluster;
use super::rows::{CLUSTERS, ClusterRow};
use super::validate::{MAX_DESCRIPTION_BYTES, MAX_TEXT_BYTES, check_text, new_cluster};
use crate::store::{PostgresStore, SqliteStore, StoreError};

/// The cluster side of the workflow store.
#[async_trait::async_trait]
pub trait WorkflowClusters: Send + Sync + 'static {
    /// `""` is the default cluster.
    async fn cluster(&self, slug: &str) -> Result<Option<Cluster>, StoreError>;
    async fn clusters(&self) -> Result<Vec<Cluster>, StoreError>;
    async fn create_cluster(&self, cluster: &Cluster, now_ns: i64) -> Result<Cluster, StoreError>;
    /// Renames a cluster or changes its description (`None` leaves each as it is); the slug,
    /// which runners and tasks name it by, stays.
    async fn update_cluster(
        &self,
        slug: &str,
        display_name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Cluster, StoreError>;
    async fn delete_cluster(&self, slug: &str) -> Result<(), StoreError>;
}

macro_rules! impl_workflow_clusters {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(super) async fn default_cluster(
                conn: &mut <$db as sqlx::Database>::Connection,
            ) -> Result<Cluster, StoreError> {
                let row: Option<ClusterRow> = sqlx::query_as(&format!(
                    "{CLUSTERS} WHERE is_default = 1 ORDER BY slug LIMIT 1"
                ))
                .fetch_optional(&mut *conn)
                .await?;
                row.map(Cluster::from)
                    .ok_or_else(|| StoreError::NotFound("default cluster".to_owned()))
            }
        }

        #[async_trait::async_trait]
        impl WorkflowClusters for $store {
            async fn cluster(&self, slug: &str) -> Result<Option<Cluster>, StoreError> {
                let mut conn = self.read.acquire().await?;
                if slug.is_empty() {
                    return Self::default_cluster(&mut *conn).await.map(Some);
                }
                let row: Option<ClusterRow> =
                    sqlx::query_as(&format!("{CLUSTERS} WHERE slug = $1"))
                        .bind(slug)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(row.map(Cluster::from))
            }

            async fn clusters(&self) -> Result<Vec<Cluster>, StoreError> {
                let rows: Vec<ClusterRow> = sqlx::query_as(&format!("{CLUSTERS} ORDER BY slug"))
                    .fetch_all(&self.read)
                    .await?;
                Ok(rows.into_iter().map(Cluster::from).collect())
            }

            async fn create_cluster(
                &self,
                cluster: &Cluster,
                now_ns: i64,
            ) -> Result<Cluster, StoreError> {
                let cluster = new_cluster(cluster)?;
                let inserted = sqlx::query(
                    "INSERT INTO clusters (slug, display_name, description, is_default, \
                     created_ns) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (slug) DO NOTHING",
                )
                .bind(cluster.slug.as_str())
                .bind(cluster.display_name.as_str())
                .bind(cluster.description.as_str())
                .bind(now_ns)
                .execute(&self.write)
                .await?;
                if inserted.rows_affected() == 0 {
                    let slug = &cluster.slug;
                    return Err(StoreError::Conflict(format!(
                        "cluster {slug:?} already exists"
                    )));
                }
                Ok(cluster)
            }

            async fn update_cluster(
                &self,
                slug: &str,
                display_name: Option<&str>,
                description: Option<&str>,
            ) -> Result<Cluster, StoreError> {
                if let Some(name) = display_name {
                    check_text("the cluster name", name, MAX_TEXT_BYTES)?;
                }
                if let Some(description) = description {
                    check_text(
                        "the cluster description",
                        description,
                        MAX_DESCRIPTION_BYTES,
                    )?;
                }
                if display_name.is_some_and(|name| name.trim().is_empty()) {
                    return Err(StoreError::InvalidArgument(
                        "a cluster's name must not be empty".to_owned(),
                    ));
                }
                let row: Option<ClusterRow> = sqlx::query_as(
                    "UPDATE clusters SET display_name = COALESCE($2, display_name), \
                     description = COALESCE($3, description) WHERE slug = $1 \
                     RETURNING slug, display_name, description, is_default",
                )
                .bind(slug)
                .bind(display_name)
                .bind(description)
                .fetch_optional(&self.write)
                .await?;
                row.map(Cluster::from)
                    .ok_or_else(|| StoreError::NotFound(format!("cluster {slug:?}")))
            }

            async fn delete_cluster(&self, slug: &str) -> Result<(), StoreError> {
                let deleted =
                    sqlx::query("DELETE FROM clusters WHERE slug = $1 AND is_default = 0")
                        .bind(slug)
                        .execute(&self.write)
                        .await?;
                if deleted.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("deletable cluster {slug:?}")));
                }
                Ok(())
            }
        }
    };
}

impl_workflow_clusters!(SqliteStore, sqlx::Sqlite);
impl_workflow_clusters!(PostgresStore, sqlx::Postgres);
