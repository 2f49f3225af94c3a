// Every native call goes through [LibraryImport]-generated stubs over blittable types.
using System.Runtime.CompilerServices;

[assembly: DisableRuntimeMarshalling]
