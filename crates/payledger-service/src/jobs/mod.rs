//! Jobs (docs/JOBS.md): long work off the request thread. Requesting one queues a row and
//! appends `JobRequested` in one transaction; a runner in any server process claims it, runs
//! it under a renewed lease, and writes its outcome with `JobSucceeded`, `JobFailed` or
//! `JobCancelled`.

mod runner;
mod table;
mod work;

pub use runner::{spawn_job_runner, JobRunner, JobRunnerConfig};
pub use table::{
    cancel_job, claim_job, end_job, find_job, get_job, heartbeat, list_jobs, request_job, Claimed, Ending, Job, NewJob,
    JOBS_PAGE_MAX,
};
pub use work::{run_work, Progress, WorkConfig, WorkError, VERIFY_MAX_DIFFERENCES};
