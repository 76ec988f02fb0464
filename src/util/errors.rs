//! Showing an error: the error and every cause behind it, on one line, each
//! once.
//!
//! # Contract
//! [`chain`] walks [`std::error::Error::source`] and joins the messages with
//! `": "`, skipping a cause whose text the line already has (libraries often
//! repeat their source in their own message), so "connection reset by peer"
//! is shown, and shown once. It does not redact: what it returns goes
//! through [`crate::util::redact::text`] where it is shown.

/// `e` and its causes, on one line, each once.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(String, #[source] Option<Box<Layer>>);

    #[test]
    fn each_cause_is_shown_once() {
        let io = Layer("connection reset by peer".into(), None);
        let hyper = Layer(
            "connection error: connection reset by peer".into(),
            Some(io.into()),
        );
        let top = Layer("error sending request".into(), Some(hyper.into()));
        assert_eq!(
            super::chain(&top),
            "error sending request: connection error: connection reset by peer"
        );
    }
}
