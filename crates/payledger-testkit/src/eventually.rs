//! The one bounded wait of the tests: ask again until the answer is there or the deadline
//! passes, then fail naming what was awaited (never a blind sleep, never an endless loop).

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// Pause between two looks: short, since probes are cheap queries.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// What a probe answers: the awaited value, or not yet (with what it saw, for the message).
pub trait Probe {
    type Value;
    fn ready(self) -> Result<Self::Value, String>;
}

impl<T> Probe for Option<T> {
    type Value = T;
    fn ready(self) -> Result<T, String> {
        self.ok_or_else(|| "not yet".to_owned())
    }
}

/// An `Err` means not yet; the last one is shown if the deadline passes.
impl<T, E: Debug> Probe for Result<T, E> {
    type Value = T;
    fn ready(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

/// Calls `probe` until it answers `Some`/`Ok`, for at most `deadline`; panics after that with
/// `what` and the probe's last answer.
pub async fn eventually<P, F, R>(deadline: Duration, what: &str, mut probe: P) -> R::Value
where
    P: FnMut() -> F,
    F: Future<Output = R>,
    R: Probe,
{
    let started = Instant::now();
    loop {
        let last = match probe().await.ready() {
            Ok(value) => return value,
            Err(last) => last,
        };
        if started.elapsed() >= deadline {
            panic!("waited {deadline:?} for {what}; the last look said: {last}");
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_ready_answer() {
        let mut looks = 0;
        let value = eventually(Duration::from_secs(5), "the third look", || {
            looks += 1;
            let answer = (looks >= 3).then_some(looks);
            async move { answer }
        })
        .await;
        assert_eq!(value, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waited 50ms for a thing that never comes; the last look said: \"still no\"")]
    async fn names_what_was_awaited_at_the_deadline() {
        eventually(Duration::from_millis(50), "a thing that never comes", || async { Err::<(), _>("still no") }).await;
    }
}
