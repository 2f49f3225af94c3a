// What a tcx link answers as an IDeviceAttachment. Update, Detach, IfIndex and Dispose are
// NetDeviceLink's own.
namespace Microseg.Bpf;

public sealed partial class TcxLink
{
    AttachMode IDeviceAttachment.Mode => AttachMode.Tcx;

    HookDirection IDeviceAttachment.Direction => Direction == TcxDirection.Ingress ? HookDirection.Ingress : HookDirection.Egress;

    uint IDeviceAttachment.AttachedProgramId()
    {
        var info = Info();
        return info.IsDefunct ? 0 : info.ProgramId;
    }
}
