//! Subcommand arguments that clap builds only for the subcommand used.
//!
//! clap's derive builds every argument of every subcommand each time objdl
//! starts (an `Arg` per option, its help copied into a string), although
//! one subcommand is parsed. [`Deferred`] hands a subcommand's arguments
//! to clap's `Command::defer`, which adds them when that subcommand is
//! built: when it is the one on the command line, or when the whole tree is
//! (help, completions, man pages). `objdl run` then never builds `check`'s
//! arguments, nor `check` `run`'s.

use clap::{ArgMatches, Args, Command, FromArgMatches};

/// The arguments `T`, added to their subcommand when it is built.
pub(crate) struct Deferred<T>(pub T);

impl<T: Args> Args for Deferred<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }

    fn augment_args(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args_for_update))
    }
}

/// `augment(cmd)`, with `cmd`'s description as it was. The derive of a
/// struct with flattened argument structs sets the description from their
/// doc comments; the subcommand's own, set when the subcommand was made,
/// must win, as it does when the arguments are not deferred.
fn keeping_about(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let cmd = augment(cmd);
    let cmd = match about {
        Some(text) => cmd.about(text),
        None => cmd.about(None::<&'static str>),
    };
    match long_about {
        Some(text) => cmd.long_about(text),
        None => cmd.long_about(None::<&'static str>),
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}
