//! One module per subcommand.

pub mod autoscale;
pub mod completion;
pub mod deploy;
pub mod dev;
pub mod hub;
pub mod login;
pub mod pfs;
pub mod pps;
pub mod provisioner;
pub mod secrets;
pub mod sso;
pub mod status;
pub mod team;
pub mod version;
pub mod worker;
