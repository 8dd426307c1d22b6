//! Inputs too big or too odd: every walk iterative, every parser linear,
//! every renderer safe at any column, every script bounded in time. The
//! reproducers of known defects live in `tests/reproducers/`.

mod limits;
