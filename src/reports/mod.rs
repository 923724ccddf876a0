//! Report writers: each format is a pure function of a [`RunSummary`].
