//! [`TaskStore`]: the records of [`crate::task::Task`]s.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::model::{AppId, DeploymentId, TaskId};
use crate::task::{Task, TaskState};

/// The storage side of tasks.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// Inserts or overwrites a task record.
    async fn put_task(&self, task: &Task) -> Result<()>;
    async fn task(&self, id: TaskId) -> Result<Option<Task>>;
    /// An app's tasks, newest first.
    async fn tasks_of(&self, app: AppId, limit: u64) -> Result<Vec<Task>>;
    /// Tasks in a state across apps, oldest first.
    async fn tasks_in_state(&self, state: TaskState, limit: u64) -> Result<Vec<Task>>;
    /// The task rolling out a deployment.
    async fn task_of_deployment(&self, deployment: DeploymentId) -> Result<Option<Task>>;
}

#[async_trait]
impl<T: Delegate> TaskStore for T {
    async fn put_task(&self, task: &Task) -> Result<()> {
        self.task_store().put_task(task).await
    }
    async fn task(&self, id: TaskId) -> Result<Option<Task>> {
        self.task_store().task(id).await
    }
    async fn tasks_of(&self, app: AppId, limit: u64) -> Result<Vec<Task>> {
        self.task_store().tasks_of(app, limit).await
    }
    async fn tasks_in_state(&self, state: TaskState, limit: u64) -> Result<Vec<Task>> {
        self.task_store().tasks_in_state(state, limit).await
    }
    async fn task_of_deployment(&self, deployment: DeploymentId) -> Result<Option<Task>> {
        self.task_store().task_of_deployment(deployment).await
    }
}
