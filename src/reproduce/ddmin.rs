//! Delta debugging (Zeller's ddmin) and its use on a JSON tree.
//!
//! # Contract
//! - [`ddmin`] takes a list and a test ("does this sublist still show the
//!   failure?") and returns a sublist that still does and from which no
//!   single chunk at the final granularity can be removed (1-minimal when it
//!   runs to the end). It tries chunks, then complements, doubling the
//!   granularity when neither helps: O(log n) tests to isolate one element
//!   of n, not n.
//! - [`shrink`] applies it to a [`Node`] top down (hierarchical delta
//!   debugging): at each array and object it reduces the children, in each
//!   string the characters; numbers are replaced by simpler ones (`0`, `1`,
//!   the integer part, fewer digits); then it descends into what is left, and
//!   repeats until a whole pass changes nothing.
//! - The test may stop the search ([`Stop`], e.g. a step or time budget):
//!   the best document found so far is returned with `finished = false`.
//! - Never returns a document the test did not accept (apart from the
//!   starting one, which the caller checked).

use super::jsontree::Node;

/// The test asked the search to stop (its budget is spent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

/// A test: `Ok(true)` the candidate still shows the failure.
pub type Test<'a, T> = dyn FnMut(&[T]) -> Result<bool, Stop> + 'a;

/// Reduces `items` while `test` holds; `Err(kept)` when the test stopped the
/// search, with the best list so far.
pub fn ddmin<T: Clone>(items: Vec<T>, test: &mut Test<'_, T>) -> Result<Vec<T>, Vec<T>> {
    let mut current = items;
    if current.is_empty() {
        return Ok(current);
    }
    match test(&[]) {
        Ok(true) => return Ok(Vec::new()),
        Ok(false) => {}
        Err(Stop) => return Err(current),
    }
    let mut n = 2usize;
    while current.len() >= 2 {
        let len = current.len();
        let chunk = len.div_ceil(n);
        let ranges: Vec<(usize, usize)> = (0..len)
            .step_by(chunk)
            .map(|start| (start, (start + chunk).min(len)))
            .collect();
        let mut reduced = false;
        for &(a, b) in &ranges {
            match test(&current[a..b]) {
                Ok(true) => {
                    current = current[a..b].to_vec();
                    n = 2;
                    reduced = true;
                    break;
                }
                Ok(false) => {}
                Err(Stop) => return Err(current),
            }
        }
        if !reduced && ranges.len() > 2 {
            for &(a, b) in &ranges {
                let complement: Vec<T> =
                    current[..a].iter().chain(&current[b..]).cloned().collect();
                match test(&complement) {
                    Ok(true) => {
                        current = complement;
                        n = (n - 1).max(2);
                        reduced = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(Stop) => return Err(current),
                }
            }
        }
        if !reduced {
            if n >= len {
                break;
            }
            n = (n * 2).min(len);
        }
    }
    Ok(current)
}

/// Simpler numbers to try instead of `raw`, simplest first, each shorter
/// than `raw` or plainer (`0`, `1`).
fn simpler_numbers(raw: &str) -> Vec<String> {
    let mut out: Vec<String> = vec!["0".into(), "1".into()];
    let mantissa_end = raw.find(['e', 'E']).unwrap_or(raw.len());
    let integer_end = raw[..mantissa_end].find('.').unwrap_or(mantissa_end);
    out.push(raw[..integer_end].to_owned());
    if raw.len() > 1 {
        out.push(raw[..integer_end.min(raw.len() - 1).max(1)].to_owned());
    }
    out.retain(|c| {
        c != raw && c.len() <= raw.len() && serde_json::from_str::<serde_json::Number>(c).is_ok()
    });
    out.dedup();
    out
}

/// The result of [`shrink`].
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub node: Node,
    /// False when the test stopped the search before it was done.
    pub finished: bool,
}

/// Shrinks `start` (which must pass `test`) while `test` holds.
pub fn shrink(start: Node, test: &mut dyn FnMut(&Node) -> Result<bool, Stop>) -> Shrunk {
    let mut doc = start;
    loop {
        let before = doc.to_json();
        match reduce(&mut doc, &mut Vec::new(), test) {
            Ok(()) => {}
            Err(Stop) => {
                return Shrunk {
                    node: doc,
                    finished: false,
                }
            }
        }
        if doc.to_json() == before {
            return Shrunk {
                node: doc,
                finished: true,
            };
        }
    }
}

fn reduce(
    doc: &mut Node,
    path: &mut Vec<usize>,
    test: &mut dyn FnMut(&Node) -> Result<bool, Stop>,
) -> Result<(), Stop> {
    let node = doc.at(path).cloned().expect("paths come from the document");
    let replaced = match node {
        Node::Array(items) => {
            let base = doc.clone();
            let p = path.clone();
            let mut t = |sub: &[Node]| test(&base.with(&p, Node::Array(sub.to_vec())));
            Some(match ddmin(items, &mut t) {
                Ok(kept) => Node::Array(kept),
                Err(kept) => {
                    *doc = doc.with(path, Node::Array(kept));
                    return Err(Stop);
                }
            })
        }
        Node::Object(entries) => {
            let base = doc.clone();
            let p = path.clone();
            let mut t = |sub: &[(String, Node)]| test(&base.with(&p, Node::Object(sub.to_vec())));
            Some(match ddmin(entries, &mut t) {
                Ok(kept) => Node::Object(kept),
                Err(kept) => {
                    *doc = doc.with(path, Node::Object(kept));
                    return Err(Stop);
                }
            })
        }
        Node::String(s) => {
            let base = doc.clone();
            let p = path.clone();
            let chars: Vec<char> = s.chars().collect();
            let mut t = |sub: &[char]| test(&base.with(&p, Node::String(sub.iter().collect())));
            Some(match ddmin(chars, &mut t) {
                Ok(kept) => Node::String(kept.into_iter().collect()),
                Err(kept) => {
                    *doc = doc.with(path, Node::String(kept.into_iter().collect()));
                    return Err(Stop);
                }
            })
        }
        Node::Number(raw) => {
            let mut best = raw;
            'simpler: loop {
                for candidate in simpler_numbers(&best) {
                    if test(&doc.with(path, Node::Number(candidate.clone())))? {
                        best = candidate;
                        continue 'simpler;
                    }
                }
                break;
            }
            Some(Node::Number(best))
        }
        Node::Null | Node::Bool(_) => None,
    };
    if let Some(new) = replaced {
        *doc = doc.with(path, new);
    }
    let children = doc.at(path).map_or(0, Node::children);
    for i in 0..children {
        path.push(i);
        let r = reduce(doc, path, test);
        path.pop();
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolates_one_element_in_few_tests() {
        let items: Vec<u32> = (0..1024).collect();
        let mut tests = 0;
        let kept = ddmin(items, &mut |s: &[u32]| {
            tests += 1;
            Ok(s.contains(&777))
        })
        .unwrap();
        assert_eq!(kept, vec![777]);
        assert!(tests < 60, "{tests} tests");
    }

    #[test]
    fn keeps_every_element_a_failure_needs() {
        let items: Vec<u32> = (0..100).collect();
        let kept = ddmin(
            items,
            &mut |s: &[u32]| Ok(s.contains(&3) && s.contains(&90)),
        )
        .unwrap();
        assert_eq!(kept, vec![3, 90]);
    }

    #[test]
    fn a_stop_returns_the_best_so_far() {
        let items: Vec<u32> = (0..100).collect();
        let mut budget = 3;
        let kept = ddmin(items, &mut |s: &[u32]| {
            if budget == 0 {
                return Err(Stop);
            }
            budget -= 1;
            Ok(s.contains(&7))
        })
        .unwrap_err();
        assert!(kept.contains(&7) && kept.len() < 100);
    }

    #[test]
    fn shrinks_a_buried_trigger_in_a_document() {
        let mut items: Vec<String> = (0..300).map(|i| format!("\"filler {i} \"")).collect();
        items.insert(211, "\"aaaTRIGGERbbb\"".into());
        let text = format!(
            r#"{{"meta": {{"source": "batch", "n": 12.75}}, "items": [{}], "tail": [1, 2, 3]}}"#,
            items.join(",")
        );
        let start = Node::parse(&text).unwrap();
        let shrunk = shrink(start, &mut |n: &Node| Ok(n.to_json().contains("TRIGGER")));
        assert!(shrunk.finished);
        assert_eq!(shrunk.node.to_json(), r#"{"items":["TRIGGER"]}"#);
    }

    #[test]
    fn numbers_get_simpler() {
        let start = Node::parse(r#"{"n": 12345.678}"#).unwrap();
        let shrunk = shrink(start, &mut |n: &Node| {
            Ok(matches!(n.at(&[0]), Some(Node::Number(raw)) if raw.parse::<f64>().unwrap() > 10.0))
        });
        assert_eq!(shrunk.node.to_json(), r#"{"n":12}"#);
    }
}
