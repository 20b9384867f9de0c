use std::fmt;

/// The verdicts on one file's vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file's suite.
    pub suite: String,
    /// One entry per vector, in file order.
    pub cases: Vec<Case>,
}

/// One vector's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The vector's `id`.
    pub id: String,
    /// The vector's `comment`, if any.
    pub comment: Option<String>,
    /// What the implementation produced, as canonical JSON (`{"ok":…}` or `{"error":code}`).
    pub verdict: String,
    /// Why the verdict disagrees with the vector, if it does.
    pub failure: Option<String>,
}

impl Report {
    /// How many vectors passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_none()).count()
    }

    /// The failing vectors.
    pub fn failed(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| c.failure.is_some())
    }

    /// Every verdict, one line per vector (what targets compare byte for byte).
    pub fn verdicts(&self) -> String {
        self.cases
            .iter()
            .map(|c| format!("{} {}\n", c.id, c.verdict))
            .collect()
    }
}

/// A file (or vector) the runner cannot interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(String);

impl FileError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub(crate) fn at(self, index: usize) -> Self {
        Self(format!("vector #{index}: {}", self.0))
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FileError {}
