"""A third-party Modbus TCP peer for Tirta's tests and benchmarks, built on pymodbus.

  pymodbus_peer.py client HOST PORT UNIT OPERATION...   one JSON line per operation:
      read_holding ADDRESS COUNT | read_input ADDRESS COUNT | read_coils ADDRESS COUNT
      write_register ADDRESS VALUE | write_registers ADDRESS V1,V2,... | write_coil ADDRESS 0|1
  pymodbus_peer.py server HOST PORT REGISTERS [--rtu] [--units 1,2] [--serial DEVICE]
      serves REGISTERS holding and input registers (register n holds n), 16 coils, per unit;
      --rtu frames requests as RTU over TCP; --serial serves RTU on a serial device instead of TCP
"""
import json
import sys


def client(host, port, unit, operations):
    from pymodbus.client import ModbusTcpClient

    connection = ModbusTcpClient(host, port=port, timeout=3)
    if not connection.connect():
        raise SystemExit(f"cannot connect to {host}:{port}")
    try:
        for operation in operations:
            name, *args = operation.split(":")
            if name == "read_holding":
                result = connection.read_holding_registers(int(args[0]), int(args[1]), slave=unit)
                value = None if result.isError() else result.registers
            elif name == "read_input":
                result = connection.read_input_registers(int(args[0]), int(args[1]), slave=unit)
                value = None if result.isError() else result.registers
            elif name == "read_coils":
                result = connection.read_coils(int(args[0]), int(args[1]), slave=unit)
                value = None if result.isError() else [int(bit) for bit in result.bits[: int(args[1])]]
            elif name == "write_register":
                result = connection.write_register(int(args[0]), int(args[1]), slave=unit)
                value = None if result.isError() else "ok"
            elif name == "write_registers":
                result = connection.write_registers(int(args[0]), [int(v) for v in args[1].split(",")], slave=unit)
                value = None if result.isError() else "ok"
            elif name == "write_coil":
                result = connection.write_coil(int(args[0]), args[1] == "1", slave=unit)
                value = None if result.isError() else "ok"
            else:
                raise SystemExit(f"unknown operation {name}")
            print(json.dumps({"operation": operation, "value": value, "error": str(result) if value is None else None}), flush=True)
    finally:
        connection.close()


def server(host, port, registers, options):
    from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    from pymodbus.framer.socket_framer import ModbusSocketFramer
    from pymodbus.server import StartSerialServer, StartTcpServer

    units = [int(unit) for unit in option(options, "--units", "1").split(",")]

    def store():
        # pymodbus 3.0 blocks count from 1 for protocol address 0: a leading filler keeps register n = n.
        block = ModbusSequentialDataBlock(0, [0] + list(range(registers)))
        bits = ModbusSequentialDataBlock(0, [0] * 17)
        return ModbusSlaveContext(hr=block, ir=block, co=bits, di=bits)

    context = ModbusServerContext(slaves={unit: store() for unit in units}, single=False)
    print("listening", flush=True)
    serial = option(options, "--serial", None)
    if serial is not None:
        StartSerialServer(context=context, framer=ModbusRtuFramer, port=serial, baudrate=19200, parity="E", timeout=0.05)
    else:
        StartTcpServer(context=context, address=(host, port), framer=ModbusRtuFramer if "--rtu" in options else ModbusSocketFramer)


def option(options, name, default):
    return options[options.index(name) + 1] if name in options else default


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    elif role == "server":
        server(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    else:
        raise SystemExit(__doc__)
