<?xml version="1.0" encoding="UTF-8"?>
<!--
  Join: e-commerce platform order (SHOP_ORDERS) + bonded-warehouse shipment confirmation (WMS_SHIPMENTS)
  → CBEC import inventory list CEB621 (进口清单, bonded import 1210/1239). Runs on the order export; the
  engine hands it the confirmation holding the same order number as pg:input('shipment'), and the order
  number it joined on as $joinKey (a batch is joined order by order). One CEB621Message per joined order.
  Element order: ../../shared/formats/ceb-import-fields.md (InventoryHead, InventoryList, BaseTransfer);
  customs sample samples/ceb/ceb621-inventory-valid.xml. Field by field: docs/partners/shop-orders.md and
  docs/partners/wms-shipments.md.

  Where each part comes from:
  - the order: orderNo, merchant (ebc, also the guarantor assureCode), buyer, address, item names, specs,
    barcodes, origin countries, sales quantities and units, prices, freight, currency;
  - the shipment: waybill and carrier (logistics*), outbound number (copNo), warehouse account book (emsNo),
    supervising customs (customsCode, portCode), warehouse operator (areaCode/areaName), package count,
    weights, insurance fee, and per item the account-book item number, HS code, declared name and the
    legal (and second) quantities;
  - route parameters: copCode, copName, dxpId, ebpCode, ebpName, agentCode, agentName (the declarant,
    申报单位), tradeMode (1210 or 1239), trafMode (the special area the warehouse lies in, e.g. Y).
  Items are matched by SKU. The list must declare exactly what leaves the warehouse, so an order item the
  WMS did not pick, a different picked quantity, or a picked SKU the order lacks stops the mapping (PG-306).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:ceb="http://www.chinaport.gov.cn/ceb"
                xmlns:so="urn:portgate:partner:shop-orders:1"
                xmlns:ws="urn:portgate:partner:wms-shipments:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns:pgm="urn:portgate:mapping"
                extension-element-prefixes="pg"
                exclude-result-prefixes="so ws pg pgm">

  <xsl:include href="shop-common.xsl"/>
  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <!-- The order number this run joins on (empty: every order of the batch, each with its shipment). -->
  <xsl:param name="joinKey" select="''"/>

  <xsl:template match="/">
    <xsl:if test="not(so:OrderBatch)">
      <xsl:message terminate="yes">shop-orders-to-ceb621: the input is not a shop-orders OrderBatch</xsl:message>
    </xsl:if>
    <xsl:variable name="confirmation" select="pg:input('shipment')"/>
    <xsl:if test="not($confirmation/self::ws:ShipmentConfirmation)">
      <xsl:message terminate="yes">shop-orders-to-ceb621: the joined document 'shipment' is not a wms-shipments ShipmentConfirmation</xsl:message>
    </xsl:if>
    <xsl:variable name="orders" select="so:OrderBatch/so:Order[$joinKey = '' or so:orderNo = $joinKey]"/>
    <xsl:if test="not($orders)">
      <xsl:message terminate="yes">
        <xsl:value-of select="concat('shop-orders-to-ceb621: no Order with orderNo ', $joinKey, ' in this batch')"/>
      </xsl:message>
    </xsl:if>
    <pgm:outputs>
      <xsl:for-each select="$orders">
        <xsl:variable name="no" select="so:orderNo"/>
        <xsl:variable name="shipment" select="$confirmation/ws:shipment[ws:orderNo = $no]"/>
        <xsl:if test="count($shipment) != 1">
          <xsl:message terminate="yes">
            <xsl:value-of select="concat('shop-orders-to-ceb621: Order ', $no, ': the shipment confirmation ',
              $confirmation/@messageId, ' has ', count($shipment), ' shipments for it, expected exactly 1')"/>
          </xsl:message>
        </xsl:if>
        <pgm:output>
          <xsl:apply-templates select=".">
            <xsl:with-param name="shipment" select="$shipment"/>
            <xsl:with-param name="warehouse" select="$confirmation/ws:warehouse"/>
          </xsl:apply-templates>
        </pgm:output>
      </xsl:for-each>
    </pgm:outputs>
  </xsl:template>

  <xsl:template match="so:Order">
    <xsl:param name="shipment"/>
    <xsl:param name="warehouse"/>
    <xsl:variable name="no" select="so:orderNo"/>
    <xsl:call-template name="require-buyer-id">
      <xsl:with-param name="order" select="."/>
      <xsl:with-param name="mapping" select="'shop-orders-to-ceb621'"/>
    </xsl:call-template>
    <!-- A cancelled order is withdrawn with the inventory cancel (CEB623), not with a list. -->
    <xsl:if test="@action = 'cancel'">
      <xsl:message terminate="yes">
        <xsl:value-of select="concat('shop-orders-to-ceb621: Order ', $no, ' is cancelled (action=cancel): an inventory list is not declared for it')"/>
      </xsl:message>
    </xsl:if>
    <!-- What was ordered is what was picked, SKU by SKU. -->
    <xsl:for-each select="so:items/so:item">
      <xsl:variable name="sku" select="so:sku"/>
      <xsl:variable name="picked" select="$shipment/ws:items/ws:item[ws:sku = $sku]"/>
      <xsl:if test="count($picked) != 1">
        <xsl:message terminate="yes">
          <xsl:value-of select="concat('shop-orders-to-ceb621: Order ', $no, ' item ', $sku, ': shipment ',
            $shipment/ws:outboundNo, ' has ', count($picked), ' picked lines for it, expected exactly 1')"/>
        </xsl:message>
      </xsl:if>
      <xsl:if test="number($picked/ws:quantity) != number(so:quantity)">
        <xsl:message terminate="yes">
          <xsl:value-of select="concat('shop-orders-to-ceb621: Order ', $no, ' item ', $sku, ': ordered quantity ',
            so:quantity, ' but shipment ', $shipment/ws:outboundNo, ' picked ', $picked/ws:quantity)"/>
        </xsl:message>
      </xsl:if>
    </xsl:for-each>
    <xsl:variable name="items" select="so:items/so:item"/>
    <xsl:for-each select="$shipment/ws:items/ws:item">
      <xsl:if test="not($items[so:sku = current()/ws:sku])">
        <xsl:message terminate="yes">
          <xsl:value-of select="concat('shop-orders-to-ceb621: shipment ', $shipment/ws:outboundNo, ' item ', ws:sku,
            ': picked but not in Order ', $no)"/>
        </xsl:message>
      </xsl:if>
    </xsl:for-each>

    <xsl:variable name="currency" select="pg:code('currency', normalize-space(so:currency))"/>
    <ceb:CEB621Message guid="{pg:guid()}" version="1.0">
      <ceb:Inventory>
        <ceb:InventoryHead>
          <ceb:guid><xsl:value-of select="pg:guid()"/></ceb:guid>
          <ceb:appType>
            <xsl:call-template name="app-type"><xsl:with-param name="action" select="@action"/></xsl:call-template>
          </ceb:appType>
          <ceb:appTime><xsl:value-of select="pg:now('yyyyMMddHHmmss')"/></ceb:appTime>
          <ceb:appStatus>2</ceb:appStatus>
          <ceb:orderNo><xsl:value-of select="$no"/></ceb:orderNo>
          <ceb:ebpCode><xsl:value-of select="pg:param('ebpCode')"/></ceb:ebpCode>
          <ceb:ebpName><xsl:value-of select="pg:param('ebpName')"/></ceb:ebpName>
          <ceb:ebcCode><xsl:value-of select="so:merchant/so:customsCode"/></ceb:ebcCode>
          <ceb:ebcName><xsl:value-of select="so:merchant/so:name"/></ceb:ebcName>
          <ceb:logisticsNo><xsl:value-of select="$shipment/ws:waybillNo"/></ceb:logisticsNo>
          <ceb:logisticsCode><xsl:value-of select="$shipment/ws:carrier/ws:customsCode"/></ceb:logisticsCode>
          <ceb:logisticsName><xsl:value-of select="$shipment/ws:carrier/ws:name"/></ceb:logisticsName>
          <ceb:copNo><xsl:value-of select="$shipment/ws:outboundNo"/></ceb:copNo>
          <!-- The merchant guarantees the tax (担保扣税的企业), as in the customs sample. -->
          <ceb:assureCode><xsl:value-of select="so:merchant/so:customsCode"/></ceb:assureCode>
          <ceb:emsNo><xsl:value-of select="$warehouse/ws:accountBook"/></ceb:emsNo>
          <ceb:ieFlag>I</ceb:ieFlag>
          <ceb:declTime><xsl:value-of select="pg:now('yyyyMMdd')"/></ceb:declTime>
          <ceb:customsCode><xsl:value-of select="$warehouse/ws:customsCode"/></ceb:customsCode>
          <ceb:portCode><xsl:value-of select="$warehouse/ws:customsCode"/></ceb:portCode>
          <ceb:buyerIdType>
            <xsl:call-template name="id-type"><xsl:with-param name="type" select="so:buyer/so:idType"/></xsl:call-template>
          </ceb:buyerIdType>
          <ceb:buyerIdNumber><xsl:value-of select="so:buyer/so:idNumber"/></ceb:buyerIdNumber>
          <ceb:buyerName><xsl:value-of select="so:buyer/so:name"/></ceb:buyerName>
          <ceb:buyerTelephone><xsl:value-of select="so:buyer/so:phone"/></ceb:buyerTelephone>
          <ceb:consigneeAddress>
            <xsl:call-template name="address"><xsl:with-param name="to" select="so:shipTo"/></xsl:call-template>
          </ceb:consigneeAddress>
          <ceb:agentCode><xsl:value-of select="pg:param('agentCode')"/></ceb:agentCode>
          <ceb:agentName><xsl:value-of select="pg:param('agentName')"/></ceb:agentName>
          <ceb:areaCode><xsl:value-of select="$warehouse/ws:operatorCode"/></ceb:areaCode>
          <ceb:areaName><xsl:value-of select="$warehouse/ws:operatorName"/></ceb:areaName>
          <ceb:tradeMode><xsl:value-of select="pg:param('tradeMode')"/></ceb:tradeMode>
          <ceb:trafMode><xsl:value-of select="pg:param('trafMode')"/></ceb:trafMode>
          <!-- 起运国: bonded goods leave a warehouse inside China (the customs bonded sample declares 142). -->
          <ceb:country><xsl:value-of select="pg:code('country', 'CHN')"/></ceb:country>
          <ceb:freight><xsl:value-of select="pg:amount(so:amounts/so:freight, 2)"/></ceb:freight>
          <ceb:insuredFee>
            <xsl:choose>
              <xsl:when test="$shipment/ws:insuredFee"><xsl:value-of select="pg:amount($shipment/ws:insuredFee, 2)"/></xsl:when>
              <xsl:otherwise>0</xsl:otherwise>
            </xsl:choose>
          </ceb:insuredFee>
          <ceb:currency><xsl:value-of select="$currency"/></ceb:currency>
          <ceb:packNo><xsl:value-of select="number($shipment/ws:packageCount)"/></ceb:packNo>
          <ceb:grossWeight><xsl:value-of select="pg:round($shipment/ws:grossWeight, 5)"/></ceb:grossWeight>
          <ceb:netWeight><xsl:value-of select="pg:round($shipment/ws:netWeight, 5)"/></ceb:netWeight>
        </ceb:InventoryHead>
        <xsl:for-each select="so:items/so:item">
          <xsl:variable name="picked" select="$shipment/ws:items/ws:item[ws:sku = current()/so:sku]"/>
          <ceb:InventoryList>
            <ceb:gnum><xsl:value-of select="position()"/></ceb:gnum>
            <ceb:itemRecordNo><xsl:value-of select="$picked/ws:accountBookItemNo"/></ceb:itemRecordNo>
            <ceb:itemNo><xsl:value-of select="so:sku"/></ceb:itemNo>
            <ceb:itemName><xsl:value-of select="so:title"/></ceb:itemName>
            <ceb:gcode><xsl:value-of select="$picked/ws:hsCode"/></ceb:gcode>
            <ceb:gname><xsl:value-of select="$picked/ws:declaredName"/></ceb:gname>
            <ceb:gmodel><xsl:value-of select="so:spec"/></ceb:gmodel>
            <xsl:if test="so:barcode">
              <ceb:barCode><xsl:value-of select="so:barcode"/></ceb:barCode>
            </xsl:if>
            <ceb:country><xsl:value-of select="pg:code('country', normalize-space(so:originCountry))"/></ceb:country>
            <ceb:currency><xsl:value-of select="$currency"/></ceb:currency>
            <ceb:qty><xsl:value-of select="pg:round(so:quantity, 5)"/></ceb:qty>
            <ceb:unit>
              <xsl:call-template name="customs-unit"><xsl:with-param name="unit" select="so:unit"/></xsl:call-template>
            </ceb:unit>
            <ceb:qty1><xsl:value-of select="pg:round($picked/ws:legalQuantity, 5)"/></ceb:qty1>
            <ceb:unit1>
              <xsl:call-template name="customs-unit"><xsl:with-param name="unit" select="$picked/ws:legalUnit"/></xsl:call-template>
            </ceb:unit1>
            <xsl:if test="$picked/ws:secondQuantity">
              <ceb:qty2><xsl:value-of select="pg:round($picked/ws:secondQuantity, 5)"/></ceb:qty2>
              <ceb:unit2>
                <xsl:call-template name="customs-unit"><xsl:with-param name="unit" select="$picked/ws:secondUnit"/></xsl:call-template>
              </ceb:unit2>
            </xsl:if>
            <ceb:price><xsl:value-of select="pg:amount(so:unitPrice, 2)"/></ceb:price>
            <ceb:totalPrice><xsl:value-of select="pg:amount(so:lineAmount, 2)"/></ceb:totalPrice>
          </ceb:InventoryList>
        </xsl:for-each>
      </ceb:Inventory>
      <xsl:call-template name="base-transfer"/>
    </ceb:CEB621Message>
  </xsl:template>

</xsl:stylesheet>
