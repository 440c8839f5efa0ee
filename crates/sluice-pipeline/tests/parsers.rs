//! Property tests: the `when` CEL subset never panics, whatever the expression.

use proptest::prelude::*;
use sluice_pipeline::cel;

proptest! {
    #[test]
    fn cel_never_panics(expr in "\\PC{0,40}") {
        let _ = cel::eval_bool(&expr);
    }

    #[test]
    fn cel_like_never_panics(expr in "('[a-z]*'|\"[a-z]*\"|[0-9]{1,3}|==|!=|&&|\\|\\||!|\\(|\\)|in|\\[|\\]|,| |true|false|\\.|size|matches){0,20}") {
        let _ = cel::eval_bool(&expr);
    }
}
