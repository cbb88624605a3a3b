CREATE TABLE `dataset_versions` (
	`dataset_id` text NOT NULL,
	`version` integer NOT NULL,
	`record_count` integer NOT NULL,
	`shard_size` integer NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`dataset_id`, `version`),
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`visibility` text NOT NULL,
	`owner_key_id` text,
	`record_count` integer DEFAULT 0 NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `datasets_name_unique` ON `datasets` (`name`);--> statement-breakpoint
CREATE TABLE `records` (
	`dataset_id` text NOT NULL,
	`id` text NOT NULL,
	`position` integer NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`constraint_count` integer NOT NULL,
	`dimensions` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`dataset_id`, `id`),
	FOREIGN KEY (`dataset_id`) REFERENCES `datasets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `records_position_idx` ON `records` (`dataset_id`,`position`);--> statement-breakpoint
CREATE INDEX `records_kind_idx` ON `records` (`dataset_id`,`kind`,`position`);--> statement-breakpoint
CREATE INDEX `records_constraints_idx` ON `records` (`dataset_id`,`constraint_count`,`position`);--> statement-breakpoint
CREATE TABLE `version_shards` (
	`dataset_id` text NOT NULL,
	`version` integer NOT NULL,
	`format` text NOT NULL,
	`shard` integer NOT NULL,
	`record_count` integer NOT NULL,
	`line_count` integer NOT NULL,
	`byte_size` integer NOT NULL,
	`sha256` text NOT NULL,
	PRIMARY KEY(`dataset_id`, `version`, `format`, `shard`)
);
