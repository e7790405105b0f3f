//! One module per subcommand.

pub mod completion;
pub mod dev;
pub mod status;
pub mod version;
