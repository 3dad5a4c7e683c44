//! Everything periodic in the main cycle as one [`Schedule`]: jobs with a period on the monotonic
//! clock, so the cycle can sleep until the earliest one is due instead of waking on a fixed tick.

use std::time::Duration;

use tokio::time::Instant;

/// Periodic jobs keyed by `K`. Each keeps its own grid (`first + n × period`): runs do not drift
/// with the time the work takes, and a run that comes late is followed by the next slot on the
/// grid after now, never by a burst of catch-up runs.
#[derive(Debug)]
pub(crate) struct Schedule<K> {
    jobs: Vec<Job<K>>,
}

#[derive(Debug)]
struct Job<K> {
    key: K,
    /// `None`: paused (e.g. its period is an env variable that is missing).
    period: Option<Duration>,
    next: Instant,
    /// When it last became due, to place the next run when the period changes.
    last: Option<Instant>,
}

impl<K: PartialEq + Copy> Schedule<K> {
    pub(crate) fn new() -> Self {
        Schedule { jobs: Vec::new() }
    }

    /// Adds a job first due at `first`, then every `period` (`None`: paused).
    pub(crate) fn add(&mut self, key: K, period: Option<Duration>, first: Instant) {
        self.jobs.push(Job {
            key,
            period,
            next: first,
            last: None,
        });
    }

    /// Changes a job's period: the next run comes one new period after the last one (at once if
    /// that is past, or if it never ran); the same period changes nothing.
    pub(crate) fn set_period(&mut self, key: K, period: Option<Duration>, now: Instant) {
        let Some(job) = self.jobs.iter_mut().find(|job| job.key == key) else {
            return;
        };
        if job.period == period {
            return;
        }
        job.period = period;
        if let Some(period) = period {
            job.next = job.last.map_or(now, |last| (last + period).max(now));
        }
    }

    /// Moves a job's next run to `at` (e.g. the state, right after a connect).
    pub(crate) fn reschedule(&mut self, key: K, at: Instant) {
        if let Some(job) = self.jobs.iter_mut().find(|job| job.key == key) {
            job.next = at;
        }
    }

    /// The earliest moment a job is due, `None` when none is scheduled.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.jobs
            .iter()
            .filter(|job| job.period.is_some())
            .map(|job| job.next)
            .min()
    }

    /// The jobs due at `now`, each moved to its next slot after `now`.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        for job in &mut self.jobs {
            let Some(period) = job.period else { continue };
            if job.next > now {
                continue;
            }
            due.push(job.key);
            job.last = Some(job.next);
            // Whole periods missed are skipped: the next slot on the grid strictly after now.
            let missed = (now - job.next).as_nanos() / period.as_nanos().max(1);
            let skip = u32::try_from(missed + 1).unwrap_or(u32::MAX);
            job.next += period.saturating_mul(skip);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn runs_on_its_grid_without_drift() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(1, Some(S), t0);
        assert_eq!(schedule.take_due(t0), vec![1]);
        assert_eq!(schedule.next_deadline(), Some(t0 + S));
        // Woken a little late: the next run stays on the grid, not 1 s after the late wake-up.
        assert_eq!(
            schedule.take_due(t0 + S + Duration::from_millis(30)),
            vec![1]
        );
        assert_eq!(schedule.next_deadline(), Some(t0 + 2 * S));
        assert!(
            schedule
                .take_due(t0 + 2 * S - Duration::from_millis(1))
                .is_empty()
        );
    }

    #[test]
    fn a_late_run_is_not_followed_by_a_burst() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(1, Some(S), t0);
        schedule.take_due(t0);
        // Five periods late: one run now, the next on the first slot after now.
        let late = t0 + 5 * S + Duration::from_millis(500);
        assert_eq!(schedule.take_due(late), vec![1]);
        assert!(schedule.take_due(late).is_empty());
        assert_eq!(schedule.next_deadline(), Some(t0 + 6 * S));
    }

    #[test]
    fn the_earliest_job_sets_the_deadline() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add('a', Some(3 * S), t0 + 3 * S);
        schedule.add('b', Some(S), t0 + S);
        schedule.add('c', None, t0);
        assert_eq!(schedule.next_deadline(), Some(t0 + S));
        assert_eq!(schedule.take_due(t0 + 3 * S), vec!['a', 'b']);
        assert_eq!(schedule.next_deadline(), Some(t0 + 4 * S));
    }

    #[test]
    fn a_new_period_counts_from_the_last_run() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(1, Some(10 * S), t0);
        schedule.take_due(t0);
        // Shortened at t0 + 2 s: due at t0 + 2 s (last run + 2 s), then every 2 s.
        schedule.set_period(1, Some(2 * S), t0 + 2 * S);
        assert_eq!(schedule.next_deadline(), Some(t0 + 2 * S));
        assert_eq!(schedule.take_due(t0 + 2 * S), vec![1]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 4 * S));
        // Shortened below the time already waited: due at once, not in the past.
        schedule.set_period(1, Some(S), t0 + 3 * S + Duration::from_millis(500));
        assert_eq!(
            schedule.next_deadline(),
            Some(t0 + 3 * S + Duration::from_millis(500))
        );
        // Lengthened: one new period after the last run.
        schedule.set_period(1, Some(5 * S), t0 + 3 * S);
        assert_eq!(schedule.next_deadline(), Some(t0 + 7 * S));
    }

    #[test]
    fn a_paused_job_is_never_due_until_it_has_a_period() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(1, None, t0);
        assert_eq!(schedule.next_deadline(), None);
        assert!(schedule.take_due(t0 + 100 * S).is_empty());
        schedule.set_period(1, Some(S), t0 + 100 * S);
        assert_eq!(schedule.take_due(t0 + 100 * S), vec![1]);
    }
}
