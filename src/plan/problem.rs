//! Problems found in a plan, with where they are and what to do about them.

use std::fmt;
use std::sync::Arc;

/// Where an action (or a problem) stands: file, index path and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub file: Arc<str>,
    /// Index path such as `actions[3].args.action_list[0]`.
    pub path: String,
    /// 1-based line of the action in the file, when known.
    pub line: Option<usize>,
}

impl Position {
    pub fn new(file: Arc<str>, path: impl Into<String>, line: Option<usize>) -> Self {
        Position {
            file,
            path: path.into(),
            line,
        }
    }

    /// A position under this one: `actions[3]` + `args.tasks[1]`.
    pub fn child(&self, suffix: &str) -> Position {
        let path = if suffix.is_empty() {
            self.path.clone()
        } else if self.path.is_empty() {
            suffix.to_string()
        } else {
            format!("{}.{}", self.path, suffix)
        };
        Position {
            file: self.file.clone(),
            path,
            line: self.line,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        Ok(())
    }
}

/// One thing wrong with a plan or its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Position,
    /// Column, for JSON syntax errors.
    pub column: Option<usize>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(at: Position, message: impl Into<String>) -> Self {
        Problem {
            at,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn column(mut self, column: usize) -> Self {
        self.column = Some(column);
        self
    }

    /// A problem with a whole file (missing, unreadable, too large, ...).
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        Problem::new(Position::new(Arc::from(file), "", None), message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at.file)?;
        if let Some(line) = self.at.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if !self.at.path.is_empty() {
            write!(f, ": {}", self.at.path)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}
