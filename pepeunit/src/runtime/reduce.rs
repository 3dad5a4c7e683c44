//! The arithmetic of numeric outputs, pure: the samples since the last publication reduced to one
//! value ([`Window`], constant memory whatever the sample rate), and the `delta`/`round` filter
//! between that value and the payload ([`Filter`]).

/// How the samples of one period become the value published (`reduce = "mean"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduce {
    /// Their arithmetic mean.
    #[default]
    Mean,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// Their sum.
    Sum,
    /// The latest.
    Last,
    /// How many there were.
    Count,
}

/// The samples since the last [`Window::take`], as running figures.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    last: f64,
}

impl Window {
    pub(crate) fn push(&mut self, sample: f64) {
        if self.count == 0 {
            (self.min, self.max) = (sample, sample);
        }
        self.count += 1;
        self.sum += sample;
        self.min = self.min.min(sample);
        self.max = self.max.max(sample);
        self.last = sample;
    }

    /// The reduction of the samples, `None` without any; the window starts empty again.
    pub(crate) fn take(&mut self, reduce: Reduce) -> Option<f64> {
        let window = std::mem::take(self);
        (window.count > 0).then(|| match reduce {
            Reduce::Mean => window.sum / window.count as f64,
            Reduce::Min => window.min,
            Reduce::Max => window.max,
            Reduce::Sum => window.sum,
            Reduce::Last => window.last,
            Reduce::Count => window.count as f64,
        })
    }
}

/// `round = N` then `delta = D`: the payload of a value, or `None` when it moved less than `D` from
/// the last one let through.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) delta: Option<f64>,
    pub(crate) round: Option<u8>,
    last: Option<f64>,
}

impl Filter {
    pub(crate) fn pass(&mut self, value: f64) -> Option<String> {
        let value = match self.round {
            Some(decimals) => {
                let scale = 10f64.powi(i32::from(decimals));
                (value * scale).round() / scale
            }
            None => value,
        };
        if let (Some(delta), Some(last)) = (self.delta, self.last)
            && (value - last).abs() < delta
        {
            return None;
        }
        self.last = Some(value);
        Some(match self.round {
            Some(decimals) => format!("{value:.*}", usize::from(decimals)),
            None => value.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(samples: &[f64]) -> Window {
        let mut window = Window::default();
        samples.iter().for_each(|s| window.push(*s));
        window
    }

    #[test]
    fn every_reduction_of_the_same_samples() {
        let samples = [2.0, -1.0, 4.5, 3.0];
        let reduced = |reduce| window(&samples).take(reduce);
        assert_eq!(reduced(Reduce::Mean), Some(2.125));
        assert_eq!(reduced(Reduce::Min), Some(-1.0));
        assert_eq!(reduced(Reduce::Max), Some(4.5));
        assert_eq!(reduced(Reduce::Sum), Some(8.5));
        assert_eq!(reduced(Reduce::Last), Some(3.0));
        assert_eq!(reduced(Reduce::Count), Some(4.0));
    }

    #[test]
    fn a_take_empties_the_window_and_no_samples_is_no_value() {
        let mut window = window(&[7.0]);
        assert_eq!(window.take(Reduce::Max), Some(7.0));
        assert_eq!(window.take(Reduce::Mean), None);
        assert_eq!(window.take(Reduce::Count), None);
        // A negative first sample is the minimum and the maximum (not 0 from the empty state).
        window.push(-3.0);
        assert_eq!(window.clone().take(Reduce::Max), Some(-3.0));
        assert_eq!(window.take(Reduce::Min), Some(-3.0));
    }

    #[test]
    fn round_gives_the_decimals_asked_for() {
        let mut filter = Filter {
            round: Some(1),
            ..Filter::default()
        };
        assert_eq!(filter.pass(21.04).as_deref(), Some("21.0"));
        assert_eq!(filter.pass(21.06).as_deref(), Some("21.1"));
        let mut whole = Filter {
            round: Some(0),
            ..Filter::default()
        };
        assert_eq!(whole.pass(2.5).as_deref(), Some("3"));
        assert_eq!(Filter::default().pass(0.25).as_deref(), Some("0.25"));
    }

    #[test]
    fn delta_lets_through_moves_of_at_least_delta_from_the_last_let_through() {
        let mut filter = Filter {
            delta: Some(0.5),
            ..Filter::default()
        };
        let passed: Vec<Option<String>> = [10.0, 10.3, 10.49, 10.5, 10.2, 9.9]
            .into_iter()
            .map(|v| filter.pass(v))
            .collect();
        let expected = [Some("10"), None, None, Some("10.5"), None, Some("9.9")];
        assert_eq!(passed, expected.map(|p| p.map(str::to_owned)));
    }

    #[test]
    fn delta_compares_rounded_values() {
        let mut filter = Filter {
            delta: Some(1.0),
            round: Some(0),
            last: None,
        };
        assert_eq!(filter.pass(0.4).as_deref(), Some("0"));
        // 0.6 rounds to 1: a move of 1 from 0.
        assert_eq!(filter.pass(0.6).as_deref(), Some("1"));
    }
}
