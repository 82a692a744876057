//! What `dana/app/MainAppLoop.dn` does, `loop()` call by `loop()` call, in Rust.
//!
//! As in Dana, each request runs on a thread of its own (Dana's `asynch::`): [`MainAppLoop::run_once`]
//! starts it and returns, and later calls look whether it has finished, so a call never waits on
//! the network. The thread makes the same [`DanaCoordinator`] call the Dana loop makes
//! (`submitTask`, `status`, `tryResult`) and hands back its value and `lastError()`. The lines
//! the loop prints are kept as its Dana source writes them (`dana_wire.rs` checks they are its
//! own). The loop also counts its calls and notes when it starts each request, so tests can see
//! how requests are spaced.

use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use super::DanaAnswer;
use super::component::{
    DanaCoordinator, STATUS_COMPLETED, STATUS_PENDING, STATUS_PROCESSING, interpolate,
};

/// Printed before the task is submitted.
pub(crate) const SUBMITTING: &str = "submitting A x B to $url";
/// Printed when the task id came back.
pub(crate) const SUBMITTED: &str = "task $taskId submitted";
/// Printed on each change of status.
pub(crate) const STATUS_IS: &str = "task $taskId is $now";
/// Printed when the submission failed.
pub(crate) const NOT_SUBMITTED: &str = "task not submitted: $answerError";
/// Printed when the task failed, or a poll or the fetch did.
pub(crate) const NO_PRODUCT: &str = "no product for task $taskId: $answerError";
/// Printed with the product.
pub(crate) const PRODUCT: &str = "A x B = $product";
/// Printed when the coordinator URL given to the constructor is refused.
pub(crate) const NOT_STARTED: &str = "not started: $why";
/// Every line the loop prints.
pub(crate) const LOOP_TEXTS: &[&str] = &[
    SUBMITTING,
    SUBMITTED,
    STATUS_IS,
    NOT_SUBMITTED,
    NO_PRODUCT,
    PRODUCT,
    NOT_STARTED,
];

/// What the next request asks for (the Dana `STEP_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `submitTask`.
    Submit,
    /// `status`.
    Poll,
    /// `tryResult`.
    Fetch,
}

/// What a request's thread hands back: the call's value and the `lastError()` read after it.
struct Answer {
    id: i64,
    text: Option<String>,
    error: Option<String>,
}

/// A request the loop started: at which of its calls, and what for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Started {
    /// The 1-based `loop()` call that started it.
    pub(crate) call: u64,
    /// What it asked for.
    pub(crate) step: Step,
    /// `loop()` calls between the handling of the previous answer and this start (`None` for
    /// the first request).
    pub(crate) calls_between: Option<u64>,
}

/// One `app.MainAppLoop` object.
pub(crate) struct MainAppLoop<T> {
    coordinator: Arc<Mutex<DanaCoordinator<T>>>,
    matrix_a: Arc<str>,
    matrix_b: Arc<str>,
    poll_every_loops: u64,
    stopped: bool,
    step: Step,
    loops_to_wait: u64,
    task_id: i64,
    last_status: Option<String>,
    in_flight: Option<JoinHandle<Answer>>,
    printed: Vec<String>,
    calls: u64,
    handled_at: Option<u64>,
    started: Vec<Started>,
}

impl<T> MainAppLoop<T>
where
    T: FnMut(&[u8]) -> Option<DanaAnswer> + Send + 'static,
{
    /// The constructor `MainAppLoop(coordinatorUrl, A, B)`; `poll_every_loops` is the source's
    /// `POLL_EVERY_LOOPS`.
    pub(crate) fn new(
        coordinator: DanaCoordinator<T>,
        coordinator_url: Option<&str>,
        a: &str,
        b: &str,
        poll_every_loops: u64,
    ) -> Self {
        let mut this = Self {
            coordinator: Arc::new(Mutex::new(coordinator)),
            matrix_a: a.into(),
            matrix_b: b.into(),
            poll_every_loops,
            stopped: false,
            step: Step::Submit,
            loops_to_wait: 0,
            task_id: 0,
            last_status: None,
            in_flight: None,
            printed: Vec::new(),
            calls: 0,
            handled_at: None,
            started: Vec::new(),
        };
        if let Some(url) = coordinator_url {
            let mut coordinator = this.coordinator.lock().expect("coordinator");
            if !coordinator.set_coordinator_url(url) {
                let why = coordinator.last_error().unwrap_or_default().to_owned();
                drop(coordinator);
                this.stop(interpolate(NOT_STARTED, &[("why", &why)]));
            }
        }
        this
    }

    fn stop(&mut self, why: String) -> bool {
        self.printed.push(why);
        self.stopped = true;
        false
    }

    /// Runs `call` on the coordinator on a thread of its own, as `asynch::` does.
    fn start(
        &mut self,
        call: impl FnOnce(&mut DanaCoordinator<T>) -> (i64, Option<String>) + Send + 'static,
    ) {
        let coordinator = Arc::clone(&self.coordinator);
        self.in_flight = Some(thread::spawn(move || {
            let mut coordinator = coordinator.lock().expect("coordinator");
            let (id, text) = call(&mut coordinator);
            Answer {
                id,
                text,
                error: coordinator.last_error().map(str::to_owned),
            }
        }));
    }

    fn handle_answer(&mut self, answer: Answer) -> bool {
        let answer_error = answer.error.unwrap_or_default();
        let id = self.task_id.to_string();
        match self.step {
            Step::Submit => {
                if answer.id == 0 {
                    return self.stop(interpolate(
                        NOT_SUBMITTED,
                        &[("answerError", &answer_error)],
                    ));
                }
                self.task_id = answer.id;
                let id = self.task_id.to_string();
                self.printed
                    .push(interpolate(SUBMITTED, &[("taskId", &id)]));
                self.step = Step::Poll;
                self.loops_to_wait = self.poll_every_loops;
                true
            }
            Step::Poll => {
                let now = answer.text.unwrap_or_default();
                if self.last_status.as_deref() != Some(now.as_str()) {
                    self.printed
                        .push(interpolate(STATUS_IS, &[("taskId", &id), ("now", &now)]));
                    self.last_status = Some(now.clone());
                }
                if now == STATUS_COMPLETED {
                    self.step = Step::Fetch;
                    return true;
                }
                if now == STATUS_PENDING || now == STATUS_PROCESSING {
                    self.loops_to_wait = self.poll_every_loops;
                    return true;
                }
                self.stop(interpolate(
                    NO_PRODUCT,
                    &[("taskId", &id), ("answerError", &answer_error)],
                ))
            }
            Step::Fetch => match answer.text {
                None => self.stop(interpolate(
                    NO_PRODUCT,
                    &[("taskId", &id), ("answerError", &answer_error)],
                )),
                Some(product) => {
                    self.printed
                        .push(interpolate(PRODUCT, &[("product", &product)]));
                    self.stopped = true;
                    false
                }
            },
        }
    }

    /// `loop()`: true while the loop wants to be called again.
    pub(crate) fn run_once(&mut self) -> bool {
        self.calls += 1;
        if self.stopped {
            return false;
        }
        if let Some(handle) = &self.in_flight {
            if !handle.is_finished() {
                return true;
            }
            let handle = self.in_flight.take().expect("in flight");
            let answer = handle.join().expect("request thread");
            self.handled_at = Some(self.calls);
            return self.handle_answer(answer);
        }
        if self.loops_to_wait > 0 {
            self.loops_to_wait -= 1;
            return true;
        }
        self.started.push(Started {
            call: self.calls,
            step: self.step,
            calls_between: self.handled_at.map(|at| self.calls - at - 1),
        });
        match self.step {
            Step::Submit => {
                let url = self
                    .coordinator
                    .lock()
                    .expect("coordinator")
                    .coordinator_url()
                    .to_owned();
                self.printed.push(interpolate(SUBMITTING, &[("url", &url)]));
                let (a, b) = (Arc::clone(&self.matrix_a), Arc::clone(&self.matrix_b));
                self.start(move |c| (c.submit_task(&a, &b), None));
            }
            Step::Poll => {
                let id = self.task_id;
                self.start(move |c| (0, Some(c.status(id))));
            }
            Step::Fetch => {
                let id = self.task_id;
                self.start(move |c| (0, c.try_result(id)));
            }
        }
        true
    }

    /// Whether a request is running on its thread.
    pub(crate) fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The lines printed so far.
    pub(crate) fn printed(&self) -> &[String] {
        &self.printed
    }

    /// The status the last poll saw.
    pub(crate) fn last_status(&self) -> Option<&str> {
        self.last_status.as_deref()
    }

    /// The requests started so far.
    pub(crate) fn started(&self) -> &[Started] {
        &self.started
    }
}
