//! A service's own section of a node in the cluster file: `[node.<name>]`.
//!
//! The cluster crate reads what every node has (id, host, ports, ...), but
//! not what one service needs of it: the booking service's `[node.booking]`,
//! the files service's `[node.files]`. Each service defines its section as a
//! type implementing [`Section`], in its own crate, and the node crate lists
//! every service's [`SectionReader`] in one place
//! (`convene_node::services`). [`ClusterConfig::from_toml`] is given that
//! list: a key of a `[[node]]` table that is neither a common key nor a
//! listed section is refused, as a misspelt key always was, and each listed
//! section is read by its service's code into a [`Sections`] map on the
//! node, where the service finds it again by type
//! ([`NodeConfig::section`](super::NodeConfig::section)).
//!
//! Reading a section happens in the two steps the rest of the file goes
//! through: serde first, into the service's `Raw` type (which rejects
//! unknown keys), with errors that point at the line in the file; then the
//! service's own checks ([`Section::from_raw`], one node at a time, and
//! [`Section::check`], across nodes), with errors that name the node and the
//! key.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::ClusterConfig;
use crate::error::ConfigError;

/// One service's `[node.<NAME>]` section, as the service sees it once read
/// and checked.
pub trait Section: Clone + fmt::Debug + PartialEq + Send + Sync + Sized + 'static {
    /// The section's name: the table is `[node.NAME]`.
    const NAME: &'static str;

    /// What serde reads from the table. Give it
    /// `#[serde(deny_unknown_fields)]`, so that a misspelt key is an error
    /// naming the key and its line.
    type Raw: DeserializeOwned;

    /// Checks one node's section and completes it (defaults, paths resolved
    /// against the cluster file).
    fn from_raw(raw: Self::Raw, node: &NodeContext<'_>) -> Result<Self, ConfigError>;

    /// Checks what involves several nodes, once every node has been read
    /// (one owner per facility, ...). Nothing, unless the service says so.
    fn check(cluster: &ClusterConfig) -> Result<(), ConfigError> {
        let _ = cluster;
        Ok(())
    }

    /// This section's reader, for the node crate's list of services.
    const READER: &'static dyn SectionReader = &Reader::<Self>(PhantomData);
}

/// What [`Section::from_raw`] knows of the node whose section it reads.
pub struct NodeContext<'a> {
    pub(super) path: &'a Path,
    pub(super) base: &'a Path,
    pub(super) id: &'a str,
}

impl NodeContext<'_> {
    /// The node's id.
    pub fn id(&self) -> &str {
        self.id
    }

    /// `path` resolved against the cluster file's directory, as every path
    /// in the file is.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base.join(path)
    }

    /// The error for a value of this node's `key` that is not acceptable,
    /// naming the file, the node and the key, as every such error does.
    pub fn invalid(&self, key: &'static str, problem: String) -> ConfigError {
        invalid(self.path, self.id, key, problem)
    }
}

pub(super) fn invalid(path: &Path, node: &str, key: &'static str, problem: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        node: node.to_string(),
        key,
        problem,
    }
}

/// A [`Section`] with its type erased, so that one list can hold every
/// service's. Made by [`Section::READER`]; nothing else implements it.
pub trait SectionReader: Send + Sync {
    /// The section's name ([`Section::NAME`]).
    fn name(&self) -> &'static str;

    /// Step one: serde reads the table into the service's `Raw` type.
    #[doc(hidden)]
    fn deserialize(&self, value: Spanned<DeValue<'_>>) -> Result<RawSection, toml::de::Error>;

    /// Step two: the service's checks on one node's section
    /// ([`Section::from_raw`]).
    #[doc(hidden)]
    fn check_node(
        &self,
        raw: RawSection,
        node: &NodeContext<'_>,
    ) -> Result<Arc<dyn AnySection>, ConfigError>;

    /// The service's checks across nodes ([`Section::check`]).
    fn check(&self, cluster: &ClusterConfig) -> Result<(), ConfigError>;
}

/// A section as serde read it, before the service checked it.
#[doc(hidden)]
pub struct RawSection(Box<dyn Any>);

struct Reader<T>(PhantomData<fn() -> T>);

impl<T: Section> SectionReader for Reader<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn deserialize(&self, value: Spanned<DeValue<'_>>) -> Result<RawSection, toml::de::Error> {
        let raw = T::Raw::deserialize(ValueDeserializer::from(value))?;
        Ok(RawSection(Box::new(raw)))
    }

    fn check_node(
        &self,
        raw: RawSection,
        node: &NodeContext<'_>,
    ) -> Result<Arc<dyn AnySection>, ConfigError> {
        let raw = raw
            .0
            .downcast::<T::Raw>()
            .expect("a reader is given back what it read");
        Ok(Arc::new(T::from_raw(*raw, node)?))
    }

    fn check(&self, cluster: &ClusterConfig) -> Result<(), ConfigError> {
        T::check(cluster)
    }
}

/// A checked section of any service: what [`Sections`] holds.
#[doc(hidden)]
pub trait AnySection: Any + fmt::Debug + Send + Sync {
    /// Whether `other` is the same section with the same settings.
    fn same(&self, other: &dyn AnySection) -> bool;
}

impl<T: Section> AnySection for T {
    fn same(&self, other: &dyn AnySection) -> bool {
        (other as &dyn Any).downcast_ref::<T>() == Some(self)
    }
}

/// One node's service sections, by name, in the order of the service list.
#[derive(Clone, Default)]
pub struct Sections(Vec<(&'static str, Arc<dyn AnySection>)>);

impl Sections {
    /// The section of type `T`, if the node has one.
    pub fn get<T: Section>(&self) -> Option<&T> {
        self.0
            .iter()
            .find(|(name, _)| *name == T::NAME)
            .and_then(|(_, section)| (section.as_ref() as &dyn Any).downcast_ref::<T>())
    }

    pub(super) fn push(&mut self, name: &'static str, section: Arc<dyn AnySection>) {
        self.0.push((name, section));
    }

    /// The names of the sections the node has.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(name, _)| *name)
    }
}

impl fmt::Debug for Sections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, s)| (n, s)))
            .finish()
    }
}

impl PartialEq for Sections {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|((a, x), (b, y))| a == b && x.same(y.as_ref()))
    }
}
