//! Everything periodic in the main cycle, on the monotonic clock: a set of jobs, each with an id, a
//! period that may change while the cycle runs, and the [`Instant`] it is next due. The cycle sleeps
//! until [`Schedule::next_deadline`] and then runs what [`Schedule::take_due`] hands it.
//!
//! A job taken at `now` is next due one period after the slot it was due in, not after `now`: a late
//! wake-up does not shift the rhythm (no drift). If that slot has passed as well, the job skips to the
//! first slot after `now`: a cycle that fell behind runs each job once, not once per missed period (no
//! burst of catch-up runs).

use std::time::Duration;

use tokio::time::Instant;

/// The shortest period a job can have: a zero period would make the cycle spin.
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// Periodic jobs identified by `Id`.
#[derive(Debug, Clone)]
pub(crate) struct Schedule<Id> {
    jobs: Vec<Job<Id>>,
}

#[derive(Debug, Clone)]
struct Job<Id> {
    id: Id,
    period: Duration,
    /// When it is next due.
    due: Instant,
    /// The slot of its last run (what a new period counts from), none before the first run.
    last: Option<Instant>,
}

impl<Id: Clone + PartialEq> Schedule<Id> {
    /// No jobs.
    pub(crate) fn new() -> Schedule<Id> {
        Schedule { jobs: Vec::new() }
    }

    /// Adds the job `id`, first due at `first`, then every `period`. Jobs due at the same instant are
    /// taken in the order they were added.
    pub(crate) fn add(&mut self, id: Id, period: Duration, first: Instant) {
        self.jobs.push(Job {
            id,
            period: period.max(MIN_PERIOD),
            due: first,
            last: None,
        });
    }

    /// Changes the period of `id`: once it has run, it is next due one new period after its last run
    /// (so a shorter period takes effect at once, not after the old one ends); before its first run
    /// its first due time stays.
    pub(crate) fn set_period(&mut self, id: &Id, period: Duration) {
        if let Some(job) = self.job(id) {
            job.period = period.max(MIN_PERIOD);
            if let Some(last) = job.last {
                job.due = after(last, job.period);
            }
        }
    }

    /// Records that `id` really ran at `at`: it is next due one period after that. For a job whose
    /// runs must be at least a period apart as they happen (the state message: the backend drops one
    /// that comes too soon), rather than on a fixed rhythm.
    pub(crate) fn ran_at(&mut self, id: &Id, at: Instant) {
        if let Some(job) = self.job(id) {
            job.last = Some(at);
            job.due = after(at, job.period);
        }
    }

    /// Adds `id` (first due at `now`) or changes its period; `None` removes it: a job without a
    /// period (an env variable that is missing or not a number) waits off the schedule until it
    /// gets one.
    pub(crate) fn put(&mut self, id: Id, period: Option<Duration>, now: Instant) {
        let known = self.jobs.iter().any(|job| job.id == id);
        match period {
            Some(period) if known => self.set_period(&id, period),
            Some(period) => self.add(id, period, now),
            None => self.jobs.retain(|job| job.id != id),
        }
    }

    /// The earliest instant a job is due, `None` without jobs.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.jobs.iter().map(|job| job.due).min()
    }

    /// The jobs due at `now`, earliest first (ties in the order added), each rescheduled to the slot
    /// one period after the one it was due in, or, if that is not after `now`, to the first slot after
    /// `now`.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Id> {
        let mut due: Vec<(Instant, usize)> = self
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, job)| job.due <= now)
            .map(|(index, job)| (job.due, index))
            .collect();
        due.sort();
        due.into_iter()
            .map(|(slot, index)| {
                let job = &mut self.jobs[index];
                job.last = Some(slot);
                job.due = first_slot_after(slot, job.period, now);
                job.id.clone()
            })
            .collect()
    }

    fn job(&mut self, id: &Id) -> Option<&mut Job<Id>> {
        self.jobs.iter_mut().find(|job| job.id == *id)
    }
}

/// `at + period`, or `at` itself in the (theoretical) case the clock cannot go that far.
fn after(at: Instant, period: Duration) -> Instant {
    at.checked_add(period).unwrap_or(at)
}

/// The first instant `slot + k × period` (k ≥ 1) that is after `now`.
fn first_slot_after(slot: Instant, period: Duration, now: Instant) -> Instant {
    let next = after(slot, period);
    if next > now {
        return next;
    }
    let missed = (now - slot).as_nanos() / period.as_nanos();
    let skip = period.as_nanos().saturating_mul(missed + 1);
    u64::try_from(skip)
        .ok()
        .and_then(|nanos| slot.checked_add(Duration::from_nanos(nanos)))
        .unwrap_or_else(|| after(now, period))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Id {
        State,
        Output,
    }

    #[test]
    fn jobs_come_due_in_order_and_the_deadline_is_the_earliest() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        assert_eq!(schedule.next_deadline(), None);
        schedule.add(Id::State, 1000 * MS, t0);
        schedule.add(Id::Output, 100 * MS, t0);
        assert_eq!(schedule.next_deadline(), Some(t0));
        assert_eq!(schedule.take_due(t0), vec![Id::State, Id::Output]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 100 * MS));
        assert!(schedule.take_due(t0 + 99 * MS).is_empty());
        assert_eq!(schedule.take_due(t0 + 100 * MS), vec![Id::Output]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 200 * MS));
    }

    #[test]
    fn a_late_run_keeps_the_rhythm() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(Id::Output, 100 * MS, t0);
        schedule.take_due(t0);
        // Woken 30 ms late: the next slot is still t0 + 200 ms, not 230 ms.
        assert_eq!(schedule.take_due(t0 + 130 * MS), vec![Id::Output]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 200 * MS));
        // Woken early for another reason: nothing runs.
        assert!(schedule.take_due(t0 + 150 * MS).is_empty());
        assert_eq!(schedule.take_due(t0 + 200 * MS), vec![Id::Output]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 300 * MS));
    }

    #[test]
    fn a_cycle_far_behind_runs_each_job_once_then_resumes_on_its_slots() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(Id::Output, 100 * MS, t0);
        schedule.add(Id::State, 1000 * MS, t0 + 1000 * MS);
        schedule.take_due(t0);
        // Five periods of output missed (and the state's slot): each runs once.
        assert_eq!(
            schedule.take_due(t0 + 1050 * MS),
            vec![Id::Output, Id::State]
        );
        // The output's first slot after 1050 ms, on its old rhythm; the state's one period on.
        assert_eq!(schedule.next_deadline(), Some(t0 + 1100 * MS));
        assert!(schedule.take_due(t0 + 1099 * MS).is_empty());
        assert_eq!(schedule.take_due(t0 + 1100 * MS), vec![Id::Output]);
        assert_eq!(
            schedule.take_due(t0 + 2000 * MS),
            vec![Id::Output, Id::State]
        );
        // Exactly on a slot: that slot counts as passed, the next one is a full period on.
        assert_eq!(schedule.take_due(t0 + 2200 * MS), vec![Id::Output]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 2300 * MS));
    }

    #[test]
    fn a_new_period_counts_from_the_last_run() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(Id::State, 60_000 * MS, t0);
        schedule.add(Id::Output, 100 * MS, t0 + 100 * MS);
        // Before its first run a job keeps its first due time.
        schedule.set_period(&Id::Output, 500 * MS);
        assert_eq!(schedule.take_due(t0), vec![Id::State]);
        assert_eq!(schedule.take_due(t0 + 100 * MS), vec![Id::Output]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 600 * MS));
        // Shortened from a minute to a second: due a second after the last run, not a minute.
        schedule.set_period(&Id::State, 1000 * MS);
        assert_eq!(schedule.take_due(t0 + 600 * MS), vec![Id::Output]);
        assert_eq!(schedule.take_due(t0 + 1000 * MS), vec![Id::State]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 1100 * MS));
        // Lengthened: the job waits the new period from its last run.
        schedule.set_period(&Id::Output, 2000 * MS);
        assert!(schedule.take_due(t0 + 1100 * MS).is_empty());
        assert_eq!(schedule.take_due(t0 + 2000 * MS), vec![Id::State]);
        assert_eq!(schedule.take_due(t0 + 2600 * MS), vec![Id::Output]);
        // Set again to the same period: nothing moves.
        schedule.set_period(&Id::Output, 2000 * MS);
        assert_eq!(schedule.take_due(t0 + 4599 * MS), vec![Id::State]);
        assert_eq!(schedule.next_deadline(), Some(t0 + 4600 * MS));
    }

    #[test]
    fn ran_at_counts_the_next_period_from_the_real_run() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(Id::State, 1000 * MS, t0);
        assert_eq!(schedule.take_due(t0), vec![Id::State]);
        // It really ran 400 ms late (say, it waited for the connection): a full period from then.
        schedule.ran_at(&Id::State, t0 + 400 * MS);
        assert!(schedule.take_due(t0 + 1000 * MS).is_empty());
        assert_eq!(schedule.take_due(t0 + 1400 * MS), vec![Id::State]);
        // A period change now counts from that run's slot.
        schedule.set_period(&Id::State, 500 * MS);
        assert_eq!(schedule.next_deadline(), Some(t0 + 1900 * MS));
    }

    #[test]
    fn a_zero_period_still_advances() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.add(Id::Output, Duration::ZERO, t0);
        assert_eq!(schedule.take_due(t0), vec![Id::Output]);
        assert!(schedule.take_due(t0).is_empty());
        assert_eq!(schedule.next_deadline(), Some(t0 + MS));
    }

    #[test]
    fn a_job_without_a_period_waits_off_the_schedule() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new();
        schedule.put(Id::Output, None, t0);
        assert_eq!(schedule.next_deadline(), None);
        schedule.put(Id::Output, Some(100 * MS), t0 + 50 * MS);
        assert_eq!(schedule.take_due(t0 + 50 * MS), vec![Id::Output]);
        schedule.put(Id::Output, Some(20 * MS), t0 + 60 * MS);
        assert_eq!(schedule.next_deadline(), Some(t0 + 70 * MS));
        schedule.put(Id::Output, None, t0 + 60 * MS);
        assert!(schedule.take_due(t0 + 1000 * MS).is_empty());
    }
}
