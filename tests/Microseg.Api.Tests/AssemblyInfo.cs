// The server runs on Linux only (file modes, bpffs, the agent).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
