//! The matrix: scenarios x (offerer, answerer) pairings, filtered by the command line.
//! Pure data, no I/O: the order of cells is deterministic (scenario, then offerer, then answerer,
//! implementations in the order of `implementations::RECORDS`).

use std::fmt;
use std::sync::Arc;

use interop_scenario::plan::Scenario;

pub use crate::implementations::Implementation;

/// One run to do.
#[derive(Debug, Clone)]
pub struct Cell {
    pub scenario: Arc<Scenario>,
    pub offerer: Implementation,
    pub answerer: Implementation,
    /// Which run of the cell this is (1-based) under `--repeat N`; `None` without it.
    pub repeat: Option<u32>,
}

impl Cell {
    pub fn pairing(&self) -> String {
        format!("{} -> {}", self.offerer, self.answerer)
    }

    /// The artefact folder of this cell, relative to the output folder; one per repeat
    /// (`.../repeat-<k>`) under `--repeat`.
    pub fn artefact_dir(&self) -> String {
        let dir = format!(
            "runs/{}/{}-{}",
            self.scenario.name, self.offerer, self.answerer
        );
        match self.repeat {
            Some(k) => format!("{dir}/repeat-{k}"),
            None => dir,
        }
    }
}

/// What to run, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Scenario names; empty = all.
    pub scenarios: Vec<String>,
    /// Implementations taking part; empty = all.
    pub implementations: Vec<Implementation>,
    /// Exact (offerer, answerer) pairings; empty = every pairing of the implementations.
    pub pairings: Vec<(Implementation, Implementation)>,
}

/// Expands scenarios into cells. Errors name a selected scenario that does not exist.
pub fn expand(scenarios: &[Arc<Scenario>], selection: &Selection) -> Result<Vec<Cell>, String> {
    // A scenario is selected by its name or, for all its variants, by its base name.
    let selected = |s: &Scenario| {
        selection.scenarios.is_empty()
            || selection
                .scenarios
                .iter()
                .any(|n| *n == s.name || *n == s.base_name)
    };
    for name in &selection.scenarios {
        if !scenarios
            .iter()
            .any(|s| &s.name == name || &s.base_name == name)
        {
            let known: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "no scenario named `{name}`; known: {}",
                known.join(", ")
            ));
        }
    }
    let implementations = if selection.implementations.is_empty() {
        Implementation::all()
    } else {
        Implementation::all()
            .into_iter()
            .filter(|i| selection.implementations.contains(i))
            .collect()
    };
    let mut cells = Vec::new();
    for scenario in scenarios {
        if !selected(scenario) {
            continue;
        }
        for &offerer in &implementations {
            for &answerer in &implementations {
                if !selection.pairings.is_empty()
                    && !selection.pairings.contains(&(offerer, answerer))
                {
                    continue;
                }
                cells.push(Cell {
                    scenario: scenario.clone(),
                    offerer,
                    answerer,
                    repeat: None,
                });
            }
        }
    }
    Ok(cells)
}

/// The plan run `times` times over (`--repeat`): the whole plan once per repeat, in order, so
/// that a cell's runs are spread over the run rather than back to back. `times` 1 leaves the
/// plan as it is (no repeat numbers, no `repeat-<k>` folders).
pub fn repeat(cells: Vec<Cell>, times: u32) -> Vec<Cell> {
    if times <= 1 {
        return cells;
    }
    (1..=times)
        .flat_map(|k| {
            cells.iter().map(move |c| Cell {
                repeat: Some(k),
                ..c.clone()
            })
        })
        .collect()
}

/// One part of a matrix split across CI jobs: shard `index` of `count` (1-based, `i/n` on the
/// command line). Cells are dealt round-robin over the expanded order, so every shard gets a
/// share of every scenario, the shards of one plan are disjoint and together are the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `i/n` with 1 <= i <= n.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let usage = || format!("expected i/n with 1 <= i <= n, e.g. 1/4, found `{text}`");
        let (i, n) = text.split_once('/').ok_or_else(usage)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| usage())?,
            n.trim().parse::<usize>().map_err(|_| usage())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }

    /// The cells of this shard, in their original order.
    pub fn select(&self, cells: Vec<Cell>) -> Vec<Cell> {
        cells
            .into_iter()
            .enumerate()
            .filter(|(position, _)| position % self.count == self.index - 1)
            .map(|(_, cell)| cell)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::implementations;
    use std::path::PathBuf;

    fn scenario(name: &str) -> Arc<Scenario> {
        let base = crate::matrix::tests::base(name);
        Arc::new(Scenario {
            name: name.into(),
            base_name: base.into(),
            parameters: Vec::new(),
            feature: "f".into(),
            description: String::new(),
            path: PathBuf::from(format!("{name}.yaml")),
            peer_names: ["alice".into(), "bob".into()],
            steps: vec![],
        })
    }

    fn base(name: &str) -> &str {
        interop_scenario::expectations::base_name(name)
    }

    #[test]
    fn repeat_runs_the_whole_plan_once_per_repeat_with_a_folder_each() {
        let plan = expand(
            &[scenario("a"), scenario("b")],
            &Selection {
                pairings: vec![(
                    Implementation::of(&implementations::RUST),
                    Implementation::of(&implementations::RUST),
                )],
                ..Default::default()
            },
        )
        .unwrap();
        // Once: the plan as it is.
        let once = repeat(plan.clone(), 1);
        assert!(once.iter().all(|c| c.repeat.is_none()));
        assert_eq!(once[0].artefact_dir(), "runs/a/rust-rust");
        // Three times: a, b, a, b, a, b with repeat numbers 1..3 and a folder each.
        let three = repeat(plan, 3);
        let order: Vec<(String, Option<u32>)> = three
            .iter()
            .map(|c| (c.scenario.name.clone(), c.repeat))
            .collect();
        let want: Vec<(String, Option<u32>)> = (1..=3)
            .flat_map(|k| [("a".to_string(), Some(k)), ("b".to_string(), Some(k))])
            .collect();
        assert_eq!(order, want);
        assert_eq!(three[5].artefact_dir(), "runs/b/rust-rust/repeat-3");
    }

    #[test]
    fn a_base_name_selects_every_variant() {
        let all = vec![
            scenario("ice[a=1]"),
            scenario("ice[a=2]"),
            scenario("other"),
        ];
        let selection = Selection {
            scenarios: vec!["ice".into()],
            ..Default::default()
        };
        let cells = expand(&all, &selection).expect("known base name");
        assert!(cells.iter().all(|c| c.scenario.base_name == "ice"));
        assert_eq!(cells.len(), 2 * 9);
        let one = Selection {
            scenarios: vec!["ice[a=2]".into()],
            ..Default::default()
        };
        assert_eq!(expand(&all, &one).expect("known variant").len(), 9);
    }

    fn names(cells: &[Cell]) -> Vec<String> {
        cells
            .iter()
            .map(|c| format!("{} {}", c.scenario.name, c.pairing()))
            .collect()
    }

    #[test]
    fn full_matrix_is_nine_pairings_per_scenario_in_stable_order() {
        let cells = expand(&[scenario("a"), scenario("b")], &Selection::default()).unwrap();
        assert_eq!(cells.len(), 18);
        let n = names(&cells);
        assert_eq!(n[0], "a rust -> rust");
        assert_eq!(n[1], "a rust -> chrome");
        assert_eq!(n[3], "a chrome -> rust");
        assert_eq!(n[8], "a firefox -> firefox");
        assert_eq!(n[9], "b rust -> rust");
    }

    #[test]
    fn shards_are_disjoint_and_together_the_whole_plan() {
        let all = || {
            expand(
                &[scenario("a"), scenario("b"), scenario("c")],
                &Selection::default(),
            )
            .unwrap()
        };
        let whole = names(&all());
        for count in 1..=5 {
            let mut union: Vec<String> = Vec::new();
            for index in 1..=count {
                let part = names(&Shard { index, count }.select(all()));
                assert!(
                    part.len() >= whole.len() / count,
                    "{index}/{count} is balanced"
                );
                assert!(
                    part.iter().all(|c| !union.contains(c)),
                    "{index}/{count} disjoint"
                );
                union.extend(part);
            }
            union.sort();
            let mut sorted = whole.clone();
            sorted.sort();
            assert_eq!(union, sorted, "shards of {count} cover the plan");
        }
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(
                Shard::parse(bad).unwrap_err().contains("expected i/n"),
                "{bad}"
            );
        }
    }

    #[test]
    fn selection_filters_scenarios_implementations_and_pairings() {
        let all = [scenario("a"), scenario("b")];
        let sel = Selection {
            scenarios: vec!["b".into()],
            implementations: vec![
                Implementation::of(&implementations::RUST),
                Implementation::of(&implementations::FIREFOX),
            ],
            pairings: vec![],
        };
        assert_eq!(
            names(&expand(&all, &sel).unwrap()),
            [
                "b rust -> rust",
                "b rust -> firefox",
                "b firefox -> rust",
                "b firefox -> firefox"
            ]
        );
        let sel = Selection {
            pairings: vec![(
                Implementation::of(&implementations::CHROME),
                Implementation::of(&implementations::RUST),
            )],
            ..Default::default()
        };
        assert_eq!(
            names(&expand(&all, &sel).unwrap()),
            ["a chrome -> rust", "b chrome -> rust"]
        );
        let err = expand(
            &all,
            &Selection {
                scenarios: vec!["zzz".into()],
                ..Default::default()
            },
        );
        assert!(err.unwrap_err().contains("no scenario named `zzz`"));
    }
}
