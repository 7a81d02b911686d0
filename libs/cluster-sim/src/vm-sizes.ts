/**
 * Allocatable CPU (millicores) and memory (MiB) per VM size, after the kubelet and system
 * reservations. Azure sizes: vCPU and memory from the Azure VM size pages (Ddsv4/Ddsv5/Dsv3/Dsv5
 * series); allocatable from AKS's documented reservation formula (kube-reserved CPU 100m + 60m per
 * core over 1; memory: 20 MiB × max pods (110) + 50 MiB, and 100 MiB eviction threshold). AWS sizes:
 * EC2 instance type pages; allocatable from the EKS AMI's reservation formula (CPU 6% of the first
 * core, 1% of the second, 0.5% of the next two; memory 11 MiB × max pods + 255 MiB + 100 MiB eviction).
 * These are modelled figures: a node's real allocatable is `kubectl describe node`.
 */
export interface VmSize {
  readonly name: string;
  readonly vcpu: number;
  readonly memoryMiB: number;
  readonly allocatableCpuMilli: number;
  readonly allocatableMemoryMiB: number;
}

function azure(name: string, vcpu: number, memoryGiB: number): VmSize {
  const memoryMiB = memoryGiB * 1024;
  const reservedCpu = 100 + 60 * (vcpu - 1);
  const reservedMemory = 20 * 110 + 50 + 100;
  return { name, vcpu, memoryMiB, allocatableCpuMilli: vcpu * 1000 - reservedCpu, allocatableMemoryMiB: memoryMiB - reservedMemory };
}

function aws(name: string, vcpu: number, memoryGiB: number, maxPods: number): VmSize {
  const memoryMiB = memoryGiB * 1024;
  const reservedCpu = 60 + (vcpu > 1 ? 10 : 0) + (vcpu > 2 ? 5 * Math.min(2, vcpu - 2) : 0) + (vcpu > 4 ? 2.5 * (vcpu - 4) : 0);
  const reservedMemory = 11 * maxPods + 255 + 100;
  return {
    name,
    vcpu,
    memoryMiB,
    allocatableCpuMilli: Math.floor(vcpu * 1000 - reservedCpu),
    allocatableMemoryMiB: memoryMiB - reservedMemory,
  };
}

export const VM_SIZES: Readonly<Record<string, VmSize>> = {
  Standard_D2s_v3: azure('Standard_D2s_v3', 2, 8),
  Standard_D4s_v3: azure('Standard_D4s_v3', 4, 16),
  Standard_D4ds_v4: azure('Standard_D4ds_v4', 4, 16),
  Standard_D8ds_v4: azure('Standard_D8ds_v4', 8, 32),
  Standard_D4ds_v5: azure('Standard_D4ds_v5', 4, 16),
  Standard_D8ds_v5: azure('Standard_D8ds_v5', 8, 32),
  Standard_D4s_v5: azure('Standard_D4s_v5', 4, 16),
  'm5.xlarge': aws('m5.xlarge', 4, 16, 58),
  'm5.2xlarge': aws('m5.2xlarge', 8, 32, 58),
  'c5.xlarge': aws('c5.xlarge', 4, 8, 58),
  // This machine as one node: its cores and memory, nothing reserved (keda-local's own model).
  local: { name: 'local', vcpu: 2, memoryMiB: 8192, allocatableCpuMilli: 2000, allocatableMemoryMiB: 8192 },
};
