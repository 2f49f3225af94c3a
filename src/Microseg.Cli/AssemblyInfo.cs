// Interop: only blittable types cross into libc (see Interop/).
[assembly: System.Runtime.CompilerServices.DisableRuntimeMarshalling]
