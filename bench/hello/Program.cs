// An AOT hello world: the least a native .NET executable can cost to start and exit.
System.Console.WriteLine("hello");
