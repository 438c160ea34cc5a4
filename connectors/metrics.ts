// Connector health as Prometheus metrics: per device and link, requests, errors, round trips,
// last good read and planned requests per cycle; per publisher, the store-and-forward buffer.
// One ConnectorMetrics per process, handed to every connector; /metrics renders its registry.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ConnectorMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<'device' | 'link'>;
  private readonly notifications: Counter<'device' | 'link'>;
  private readonly errors: Counter<'device' | 'link' | 'kind'>;
  private readonly roundTrip: Histogram<'device' | 'link'>;
  private readonly lastGood: Gauge<'device'>;
  private readonly online: Gauge<'device'>;
  private readonly plannedRequests: Gauge<'device' | 'poll_group'>;
  private readonly bufferDepthGauge: Gauge;
  private readonly bufferDropped: Counter;
  private readonly published: Counter<'device' | 'historical'>;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.requests = new Counter({ name: 'tirta_connector_requests_total', help: 'Requests sent to a device (reads, writes, OPC UA service calls).', labelNames: ['device', 'link'], registers });
    this.notifications = new Counter({ name: 'tirta_connector_notifications_total', help: 'Data-change notifications received from a subscription (OPC UA).', labelNames: ['device', 'link'], registers });
    this.errors = new Counter({ name: 'tirta_connector_request_errors_total', help: 'Failed requests, by kind: timeout, exception, connection, other.', labelNames: ['device', 'link', 'kind'], registers });
    this.roundTrip = new Histogram({
      name: 'tirta_connector_round_trip_seconds',
      help: 'Round-trip time of successful requests.',
      labelNames: ['device', 'link'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.lastGood = new Gauge({ name: 'tirta_connector_last_good_read_timestamp_seconds', help: 'When the device last answered a read.', labelNames: ['device'], registers });
    this.online = new Gauge({ name: 'tirta_connector_device_online', help: '1 while the device answers, 0 while it does not.', labelNames: ['device'], registers });
    this.plannedRequests = new Gauge({ name: 'tirta_connector_requests_per_cycle', help: 'Requests one poll cycle of a poll group needs, as planned.', labelNames: ['device', 'poll_group'], registers });
    this.bufferDepthGauge = new Gauge({ name: 'tirta_connector_buffer_depth_messages', help: 'Messages in the store-and-forward buffer awaiting the broker.', registers });
    this.bufferDropped = new Counter({ name: 'tirta_connector_buffer_dropped_total', help: 'Buffered messages dropped because the buffer was full (oldest first).', registers });
    this.published = new Counter({ name: 'tirta_connector_published_batches_total', help: 'Telemetry batches acknowledged by the broker.', labelNames: ['device', 'historical'], registers });
  }

  requestSucceeded(device: string, link: string, roundTripMs: number, atMs: number): void {
    this.requests.inc({ device, link });
    this.roundTrip.observe({ device, link }, roundTripMs / 1000);
    this.lastGood.set({ device }, atMs / 1000);
  }

  /** A subscription delivered values: no request, so no round trip, but the device is answering. */
  notificationReceived(device: string, link: string, atMs: number): void {
    this.notifications.inc({ device, link });
    this.lastGood.set({ device }, atMs / 1000);
  }

  requestFailed(device: string, link: string, kind: 'timeout' | 'exception' | 'connection' | 'other'): void {
    this.requests.inc({ device, link });
    this.errors.inc({ device, link, kind });
  }

  deviceOnline(device: string, online: boolean): void {
    this.online.set({ device }, online ? 1 : 0);
  }

  requestsPerCycle(device: string, pollGroup: string, requests: number): void {
    this.plannedRequests.set({ device, poll_group: pollGroup }, requests);
  }

  bufferDepth(messages: number): void {
    this.bufferDepthGauge.set(messages);
  }

  bufferDroppedMessages(count: number): void {
    this.bufferDropped.inc(count);
  }

  batchPublished(device: string, historical: boolean): void {
    this.published.inc({ device, historical: String(historical) });
  }

  /** Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
