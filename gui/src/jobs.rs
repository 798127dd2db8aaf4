//! Background work for the panels: a [`Job`] runs a closure on its own thread,
//! reports progress, can be cancelled, and streams messages back by channel, so
//! the UI thread never blocks.
//!
//! ```
//! use kexue_gui::jobs::Job;
//! let mut job = Job::spawn(None, |ctx| {
//!     for i in 0..10u32 {
//!         if ctx.is_cancelled() {
//!             return;
//!         }
//!         ctx.set_progress((i + 1) as f32 / 10.0);
//!         ctx.send(i);
//!     }
//! });
//! let all: Vec<u32> = job.wait();
//! assert_eq!(all, (0..10).collect::<Vec<_>>());
//! assert!(job.is_finished());
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

/// State shared between a [`Job`] and its worker thread.
#[derive(Debug, Default)]
struct Shared {
    cancel: AtomicBool,
    /// Progress in [0, 1] as `f32` bits.
    progress: AtomicU32,
}

/// The worker's side of a [`Job`]: report progress, send results, check for
/// cancellation. Sending wakes the UI (when the job was given an egui context).
#[derive(Debug)]
pub struct JobContext<T> {
    shared: Arc<Shared>,
    tx: Sender<T>,
    repaint: Option<egui::Context>,
}

impl<T> JobContext<T> {
    /// True once [`Job::cancel`] was called (or the job was dropped); long loops
    /// should check it and return early.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancel.load(Ordering::Relaxed)
    }

    /// Report progress as a fraction in [0, 1] (clamped; NaN is ignored).
    pub fn set_progress(&self, fraction: f32) {
        if fraction.is_nan() {
            return;
        }
        self.shared
            .progress
            .store(fraction.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
        self.wake();
    }

    /// Send one message (a partial or final result) to the UI. Returns false if
    /// the [`Job`] is gone, in which case the worker should stop.
    pub fn send(&self, message: T) -> bool {
        let ok = self.tx.send(message).is_ok();
        self.wake();
        ok
    }

    fn wake(&self) {
        if let Some(ctx) = &self.repaint {
            ctx.request_repaint();
        }
    }
}

/// A background computation producing messages of type `T`.
///
/// Dropping a job cancels it (without waiting for the thread).
#[derive(Debug)]
pub struct Job<T> {
    shared: Arc<Shared>,
    rx: Receiver<T>,
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Job<T> {
    /// Start `work` on a new thread. `repaint`, if given, is asked to repaint
    /// whenever the worker reports progress or sends a message.
    pub fn spawn(
        repaint: Option<egui::Context>,
        work: impl FnOnce(&JobContext<T>) + Send + 'static,
    ) -> Self {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel();
        let ctx = JobContext {
            shared: Arc::clone(&shared),
            tx,
            repaint,
        };
        let handle = std::thread::Builder::new()
            .name("kexue-job".into())
            .spawn(move || {
                work(&ctx);
                ctx.shared
                    .progress
                    .store(1.0f32.to_bits(), Ordering::Relaxed);
                ctx.wake();
            })
            .ok();
        Self { shared, rx, handle }
    }
}

impl<T> Job<T> {
    /// Messages sent since the last call, oldest first; never blocks.
    pub fn drain(&mut self) -> Vec<T> {
        self.rx.try_iter().collect()
    }

    /// Progress in [0, 1] as last reported by the worker.
    pub fn progress(&self) -> f32 {
        f32::from_bits(self.shared.progress.load(Ordering::Relaxed))
    }

    /// Ask the worker to stop at its next check.
    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
    }

    /// True once the cancel flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancel.load(Ordering::Relaxed)
    }

    /// True once the worker thread has returned (or could not be started).
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Block until the worker returns and give every message not yet drained.
    /// For the CLI and tests; the UI uses [`Job::drain`].
    pub fn wait(&mut self) -> Vec<T> {
        if let Some(handle) = self.handle.take() {
            // A panicking worker has already reported what it sent; the panic
            // message went to stderr. Nothing more to recover here.
            let _ = handle.join();
        }
        self.drain()
    }
}

impl<T> Drop for Job<T> {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// What [`progress_row`] saw the user do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressAction {
    /// Nothing.
    None,
    /// The user pressed "Cancel".
    Cancel,
}

/// A progress bar with a "Cancel" button for a running job; shows nothing once
/// the job has finished. The caller cancels on [`ProgressAction::Cancel`].
pub fn progress_row<T>(ui: &mut egui::Ui, job: Option<&Job<T>>) -> ProgressAction {
    let Some(job) = job.filter(|j| !j.is_finished()) else {
        return ProgressAction::None;
    };
    let mut action = ProgressAction::None;
    ui.horizontal(|ui| {
        ui.add(
            egui::ProgressBar::new(job.progress())
                .show_percentage()
                .desired_width(160.0),
        );
        if ui.button("Cancel").clicked() {
            action = ProgressAction::Cancel;
        }
    });
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn cancel_stops_a_long_job() {
        let mut job = Job::spawn(None, |ctx: &JobContext<u64>| {
            let mut i = 0;
            while !ctx.is_cancelled() {
                i += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            ctx.send(i);
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(!job.is_finished());
        job.cancel();
        let start = Instant::now();
        let got = job.wait();
        assert_eq!(got.len(), 1);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(job.is_finished());
        assert_eq!(job.progress(), 1.0);
    }

    #[test]
    fn progress_is_clamped_and_nan_ignored() {
        let mut job = Job::spawn(None, |ctx: &JobContext<f32>| {
            ctx.set_progress(0.25);
            ctx.set_progress(f32::NAN);
            ctx.send(f32::from_bits(ctx.shared.progress.load(Ordering::Relaxed)));
            ctx.set_progress(7.0);
            ctx.send(f32::from_bits(ctx.shared.progress.load(Ordering::Relaxed)));
        });
        assert_eq!(job.wait(), vec![0.25, 1.0]);
    }

    #[test]
    fn drain_never_blocks() {
        let mut job = Job::spawn(None, |ctx: &JobContext<()>| {
            while !ctx.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        assert!(job.drain().is_empty());
        drop(job);
    }
}
