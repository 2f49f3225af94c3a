// dpkg, /etc/default/microseg and the root namespace's interfaces are machine-wide: the
// package tests run one at a time (they share one collection as well).
[assembly: CollectionBehavior(DisableTestParallelization = true)]

// A Debian package is Linux-only; so are these tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
